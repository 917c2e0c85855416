"""Every SplitType x BatchStrategy, with the exact bytes of every request body."""

from __future__ import annotations

import pytest

from smtoolkit.formats import recordio, tfrecord
from smtoolkit.transform.split import SplitError
from tests.unit.transform.conftest import batches, bodies, job_settings

LINES = b"a,1\nbb,22\nccc,333\n\nlast"


def test_line_single_record_sends_each_line_as_it_is():
    found = batches(LINES, job_settings("Line", "SingleRecord"))
    assert bodies(found) == [b"a,1\n", b"bb,22\n", b"ccc,333\n", b"\n", b"last"]
    assert [batch.records for batch in found] == [1] * 5


@pytest.mark.parametrize("limit", [10, 11, 12, 18, 19, 24, 1000])
def test_line_multi_record_packs_whole_lines_up_to_the_exact_limit(limit):
    lines = [b"a,1\n", b"bb,22\n", b"ccc,333\n", b"\n", b"last"]
    expected, current = [], b""
    for line in lines:  # the rule, spelled out: whole lines while the body stays <= limit
        if current and len(current) + len(line) > limit:
            expected.append(current)
            current = b""
        current += line
    expected.append(current)
    found = batches(LINES, job_settings("Line", "MultiRecord"), limit=limit)
    assert bodies(found) == expected
    assert all(len(body) <= limit for body in bodies(found))
    assert sum(batch.records for batch in found) == 5


def test_line_multi_record_fills_the_limit_exactly():
    data = b"12345\n" * 4  # 24 bytes
    assert bodies(batches(data, job_settings(), limit=12)) == [b"12345\n12345\n"] * 2


def test_line_over_the_limit_fails():
    with pytest.raises(SplitError, match="larger than MaxPayloadInMB"):
        batches(b"ok\n" + b"x" * 20 + b"\n", job_settings(), limit=10)
    with pytest.raises(SplitError, match="larger than MaxPayloadInMB"):
        batches(b"x" * 20 + b"\n", job_settings("Line", "SingleRecord"), limit=10)


def test_line_with_exactly_limit_bytes_and_no_newline_is_accepted():
    assert bodies(batches(b"abc\n" + b"y" * 10, job_settings(), limit=10)) == [b"abc\n", b"y" * 10]


def test_binary_lines_pass_untouched():
    data = bytes(range(256)) * 3
    assert b"".join(bodies(batches(data, job_settings(), limit=300))) == data


def test_none_split_sends_the_whole_file_whatever_the_strategy():
    for strategy in ("MultiRecord", "SingleRecord"):
        assert bodies(batches(LINES, job_settings("None", strategy))) == [LINES]
    with pytest.raises(SplitError):
        batches(LINES, job_settings("None"), limit=10)


def test_payload_zero_streams_one_chunked_body():
    found = batches(LINES, job_settings("Line", "MultiRecord", payload=0))
    assert len(found) == 1 and callable(found[0].body)
    assert bodies(found) == [LINES] and found[0].records == 5
    found = batches(LINES, job_settings("None", payload=0))
    assert bodies(found) == [LINES] and found[0].records == 1


RECORDS = [b"abcde", b"", b"abcd", b"x" * 9]


def test_recordio_multi_record_keeps_framing_and_padding():
    data = recordio.frame_all(RECORDS)
    found = batches(data, job_settings("RecordIO"), limit=36)
    assert bodies(found) == [recordio.frame_all(RECORDS[:3]), recordio.frame(RECORDS[3])]
    assert [batch.records for batch in found] == [3, 1]


def test_recordio_single_record_drops_the_padding_keeps_the_header():
    data = recordio.frame_all(RECORDS)
    expected = [recordio.frame(record)[: 8 + len(record)] for record in RECORDS]
    assert bodies(batches(data, job_settings("RecordIO", "SingleRecord"))) == expected
    assert bodies(batches(data, job_settings("RecordIO", "SingleRecord"), limit=17)) == expected


def test_recordio_single_record_payload_framing():
    from smtoolkit.transform.settings import LocalOptions

    settings = job_settings("RecordIO", "SingleRecord", local=LocalOptions(single_record_framing="payload"))
    assert bodies(batches(recordio.frame_all(RECORDS), settings)) == RECORDS


def test_recordio_damage_fails():
    with pytest.raises(SplitError, match="bad magic"):
        batches(b"\0" * 16, job_settings("RecordIO"))


def test_tfrecord_both_strategies():
    data = tfrecord.frame_all(RECORDS)
    framed = [tfrecord.frame(record) for record in RECORDS]
    assert bodies(batches(data, job_settings("TFRecord", "SingleRecord"))) == framed
    assert bodies(batches(data, job_settings("TFRecord"), limit=len(framed[0]) + len(framed[1]))) == [
        framed[0] + framed[1],
        framed[2],
        framed[3],
    ]
    with pytest.raises(SplitError, match="checksum"):
        batches(data[:-1] + b"!", job_settings("TFRecord"))


def test_data_processing_filters_each_record_before_packing():
    settings = job_settings(
        "Line",
        TransformInput={"ContentType": "text/csv"},
        TransformOutput={"Accept": "text/csv", "AssembleWith": "Line"},
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input"},
    )
    found = batches(b"id1,1,2\nid2,3,4\n", settings)
    assert bodies(found) == [b"1,2\n3,4\n"]
    assert found[0].sources == [["id1", "1", "2"], ["id2", "3", "4"]]


def test_fast_line_packing_matches_record_by_record_packing():
    import io
    import random

    from smtoolkit.transform.batch import pack, pack_lines
    from smtoolkit.transform.split import split_lines

    rng = random.Random(3)
    for _ in range(300):
        data = b"".join(b"x" * rng.randint(0, 12) + b"\n" for _ in range(rng.randint(0, 30)))
        data += b"y" * rng.choice([0, 0, 3])
        limit = rng.randint(13, 60)
        slow = [
            (b"".join(parts), len(parts))
            for parts, _ in pack(((r.raw, None) for r in split_lines(io.BytesIO(data), limit)), limit)
        ]
        assert [(bytes(body), count) for body, count in pack_lines(io.BytesIO(data), limit)] == slow, (data, limit)


def test_payload_zero_sends_single_records_chunked_too():
    found = batches(LINES, job_settings("Line", "SingleRecord", payload=0))
    assert all(callable(batch.body) for batch in found)
    assert bodies(found) == [b"a,1\n", b"bb,22\n", b"ccc,333\n", b"\n", b"last"]
