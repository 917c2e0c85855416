"""BatchStrategy's spellings, normalised in one place: the API's MultiRecord / SingleRecord (canonical) and the
container variable SAGEMAKER_BATCH_STRATEGY's MULTI_RECORD / SINGLE_RECORD, any case, `_` optional."""

from __future__ import annotations

from typing import Literal

BatchStrategy = Literal["MultiRecord", "SingleRecord"]
VariableSpelling = Literal["MULTI_RECORD", "SINGLE_RECORD"]
_SPELLINGS: dict[str, BatchStrategy] = {"multirecord": "MultiRecord", "singlerecord": "SingleRecord"}
_VARIABLE: dict[BatchStrategy, VariableSpelling] = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}


def parse_batch_strategy(value: str) -> BatchStrategy | None:
    """The API's spelling of `value` in either spelling; None when it is neither strategy."""
    return _SPELLINGS.get(value.strip().replace("_", "").lower())


def variable_spelling(strategy: BatchStrategy) -> VariableSpelling:
    """How SAGEMAKER_BATCH_STRATEGY and /execution-parameters spell `strategy`."""
    return _VARIABLE[strategy]
