"""DataProcessing: the JSONPath subset and the join, with the examples of the developer guide and API."""

from __future__ import annotations

import pytest

from smtoolkit.transform.filters import DataProcessingError, DataProcessor, split_response
from smtoolkit.transform.jsonpath import JsonPath, JsonPathError
from smtoolkit.transform.request import DataProcessingSpec

ROW = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]


def select(path: str, value: object, inclusive: bool = True) -> object:
    return JsonPath.compile(path, inclusive).select(value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", ROW),
        ("$[1]", "c1"),
        ("$[-1]", "c7"),
        ("$[1,3,5]", ["c1", "c3", "c5"]),
        ("$[1:]", ROW[1:]),
        ("$[1:4]", ["c1", "c2", "c3", "c4"]),  # "the second through fifth columns"
        ("$[5:]", ROW[5:]),  # "from the 6th column through the last column"
        ("$[:5]", ROW[:6]),  # "from the first column (index 0) through the sixth column"
        ("$[2:5]", ROW[2:6]),
        ("$[0,5:]", ["c0", *ROW[5:]]),  # the API's OutputFilter example
        ("$[*]", ROW),
    ],
)
def test_documented_csv_paths_with_the_inclusive_slice_end(path, expected):
    assert select(path, ROW) == expected


def test_exclusive_slice_end_behind_the_setting():
    assert select("$[1:4]", ROW, inclusive=False) == ["c1", "c2", "c3"]
    assert select("$[:5]", ROW, inclusive=False) == ROW[:5]
    assert select("$[2:]", ROW, inclusive=False) == ROW[2:]


DOC = {"id": 1, "features": [1, 2], "SageMakerOutput": {"label": 1}, "field1": {"child1": "a", "child2": "b"}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.id", 1),
        ("$.features", [1, 2]),
        ("$['id','SageMakerOutput']", {"id": 1, "SageMakerOutput": {"label": 1}}),
        ("$['id']", 1),
        ("$.field1.['child1','child2']", {"child1": "a", "child2": "b"}),
        ("$.field1.*", ["a", "b"]),
        ("$.features[-1]", 2),
        ("$.*", list(DOC.values())),
    ],
)
def test_documented_json_paths(path, expected):
    assert select(path, DOC) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("id", "starts with \\$"),
        ("$.field1.['child1','child2.grandchild']", "nested names"),
        ("$..id", "unsupported syntax"),
        ("$[?(@.id)]", "unsupported bracket"),
    ],
)
def test_paths_outside_the_subset_are_refused(path, message):
    with pytest.raises(JsonPathError, match=message):
        JsonPath.compile(path)


@pytest.mark.parametrize(("path", "value"), [("$[8]", ROW), ("$[1:9]", ROW), ("$.missing", DOC), ("$.id.x", DOC)])
def test_paths_not_matching_a_record_are_errors(path, value):
    with pytest.raises(JsonPathError):
        select(path, value)


def processor(content_type: str, accept: str | None = None, **spec: str) -> DataProcessor:
    return DataProcessor(DataProcessingSpec(**spec), content_type, accept or content_type)  # type: ignore[arg-type]


def test_csv_join_appends_the_output_row():  # the guide: record [1,2,3] + label [1] -> 1,2,3,1
    dp = processor("text/csv", JoinSource="Input")
    sent, source = dp.filter_input(b"1,2,3")
    assert sent == b"1,2,3"
    assert dp.process_response([source], b"1\n") == [b"1,2,3,1"]


def test_csv_id_column_example():  # InputFilter $[1:], JoinSource Input, OutputFilter $[0,-1]: "id,prediction"
    dp = processor("text/csv", InputFilter="$[1:]", JoinSource="Input", OutputFilter="$[0,-1]")
    sent, source = dp.filter_input(b'id7,"1,5",2')
    assert sent == b'"1,5",2'
    assert dp.process_response([source], b"0.9") == [b"id7,0.9"]


def test_json_join_puts_the_output_under_sagemaker_output():  # {"key":1} + {"label":1}
    dp = processor("application/json", JoinSource="Input")
    _, source = dp.filter_input(b'{"key":1}')
    assert dp.process_response([source], b'{"label":1}') == [b'{"key":1,"SageMakerOutput":{"label":1}}']


def test_json_join_of_a_non_object_makes_a_new_object():
    dp = processor("application/json", JoinSource="Input")
    _, source = dp.filter_input(b"[1,2]")
    assert dp.process_response([source], b"3") == [b'{"SageMakerInput":[1,2],"SageMakerOutput":3}']


def test_json_id_attribute_example():  # InputFilter $.features, OutputFilter $['id','SageMakerOutput']
    dp = processor(
        "application/jsonlines", InputFilter="$.features", JoinSource="Input", OutputFilter="$['id','SageMakerOutput']"
    )
    pairs = [dp.filter_input(line) for line in (b'{"id":1,"features":[1,2]}', b'{"id":2,"features":[3,4]}')]
    assert [sent for sent, _ in pairs] == [b"[1,2]", b"[3,4]"]
    out = dp.process_response([source for _, source in pairs], b"[0.1]\n[0.2]\n")
    assert out == [b'{"id":1,"SageMakerOutput":[0.1]}', b'{"id":2,"SageMakerOutput":[0.2]}']


def test_responses_must_have_one_item_per_record():
    assert split_response(b"a\r\nb\n", 2, "text/csv") == [b"a", b"b"]
    assert split_response(b"[1, 2]", 2, "application/json") == [b"1", b"2"]
    with pytest.raises(DataProcessingError, match="2 lines for 3 records"):
        split_response(b"a\nb\n", 3, "text/csv")


def test_bad_input_records_are_named():
    with pytest.raises(DataProcessingError, match="input record is not valid application/json"):
        processor("application/json", InputFilter="$.a").filter_input(b"{nope")
