"""The request (JSON file and flags), its checks, and precedence: request > /execution-parameters > defaults."""

from __future__ import annotations

import json

import pytest

from smtoolkit.errors import ConfigError
from smtoolkit.transform.request import load_request
from smtoolkit.transform.settings import resolve

BASE = {
    "TransformJobName": "ignored",
    "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    "TransformInput": {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
    },
    "TransformOutput": {"S3OutputPath": "s3://b/out/", "Accept": "text/csv", "AssembleWith": "Line"},
}


def test_defaults_when_nothing_sets_them():
    settings = resolve(load_request(json.dumps(BASE), "job.json", {}), None)
    assert (settings.batch_strategy, settings.max_payload_mb, settings.concurrency) == ("MultiRecord", 6, 1)
    assert (settings.timeout_s, settings.max_retries, settings.max_payload_bytes) == (600, 3, 6 * 1024 * 1024)


def test_execution_parameters_fill_what_the_request_leaves_unset_in_either_spelling():
    served = {"MaxConcurrentTransforms": 8, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 12}
    settings = resolve(load_request(json.dumps(BASE), "job.json", {}), served)
    assert (settings.batch_strategy, settings.max_payload_mb, settings.concurrency) == ("SingleRecord", 12, 8)


def test_the_request_wins_and_flags_win_over_the_file():
    document = {**BASE, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 1, "MaxConcurrentTransforms": 2}
    request = load_request(
        json.dumps(document), "job.json", {"MaxPayloadInMB": 0, "TransformInput": {"SplitType": "None"}}
    )
    served = {"MaxConcurrentTransforms": 8, "BatchStrategy": "SingleRecord", "MaxPayloadInMB": 12}
    settings = resolve(request, served)
    assert (settings.batch_strategy, settings.max_payload_mb, settings.concurrency) == ("MultiRecord", 0, 2)
    assert settings.split_type == "None" and settings.content_type == "text/csv" and settings.max_payload_bytes is None


def test_bad_execution_parameters_are_ignored():
    settings = resolve(
        load_request(json.dumps(BASE), "job.json", {}), {"BatchStrategy": "Sometimes", "MaxPayloadInMB": -1}
    )
    assert (settings.batch_strategy, settings.max_payload_mb) == ("MultiRecord", 6)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"BatchStrategy": "Sometimes"}, "BatchStrategy"),
        ({"MaxPayloadInMB": 101}, "MaxPayloadInMB"),
        ({"MaxPayloadInMB": 50, "MaxConcurrentTransforms": 3}, "MaxConcurrentTransforms"),
        ({"ModelClientConfig": {"InvocationsMaxRetries": 4}}, "ModelClientConfig.InvocationsMaxRetries"),
        ({"TransformInput": {"SplitType": "Paragraph"}}, "TransformInput.SplitType"),
        ({"DataProcessing": {"InputFilter": "$" + "[0]" * 30}}, "DataProcessing.InputFilter"),
        (
            {"DataProcessing": {"JoinSource": "Input"}, "TransformOutput": {"Accept": "application/json"}},
            "TransformOutput.Accept",
        ),
        (
            {"DataProcessing": {"InputFilter": "$[1:]"}, "TransformOutput": {"AssembleWith": "None"}},
            "TransformInput.SplitType",
        ),
    ],
)
def test_bad_requests_name_the_file_and_field(overrides, field):
    with pytest.raises(ConfigError) as caught:
        load_request(json.dumps(BASE), "job.json", overrides)
    assert any(p.source == "job.json" and p.field == field for p in caught.value.problems), caught.value


def test_missing_input_is_named():
    with pytest.raises(ConfigError, match="TransformInput: required field is missing"):
        load_request(None, "x", {"TransformOutput": {"S3OutputPath": "o"}})


def test_misspelt_request_fields_name_the_closest_and_api_fields_are_warned_about(caplog):
    request = json.loads(json.dumps(BASE))
    request["TransformInput"]["SpltType"] = "Line"
    request["AssembleWIth"] = "Line"
    with pytest.raises(ConfigError) as caught:
        load_request(json.dumps(request), "job.json", {})
    message = str(caught.value)
    assert "job.json: TransformInput.SpltType: unknown field: the API has no such field (did you mean SplitType?)" in (
        message
    )
    assert "job.json: AssembleWIth: unknown field" in message
    load_request(json.dumps({**BASE, "Tags": []}), "job.json", {})
    assert (
        "job.json: TransformJobName, TransformResources, Tags are fields of the API not simulated locally"
        in caplog.text
    )
