"""`facelab data info` and the --check decoding of every image."""
from __future__ import annotations

import json

import pytest

from facelab.cli.main import main
from facelab.data.readers import read_source
from facelab.data.readers.info import check_images, source_info

from test_readers import jpeg, make_celeba, make_fer_csv


@pytest.fixture()
def people_with_bad_files(tmp_path):
    root = tmp_path / "people"
    for k, person in enumerate(("Ada", "Bob")):
        for i in range(6):
            jpeg(root / person / f"{i}.jpg", i * 30 + k * 7, size=(40, 40))
    good = (root / "Ada" / "0.jpg").read_bytes()
    (root / "Ada" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "Bob" / "text.jpg").write_bytes(b"this is not a jpeg at all")
    (root / "Bob" / "zero.jpg").write_bytes(b"")
    return root


def test_check_images_finds_corrupt_and_truncated(people_with_bad_files):
    m = read_source(people_with_bad_files)
    assert len(m) == 14 and m.problem_counts() == {"empty_file": 1}  # zero bytes: seen without decoding
    result = check_images(m, workers=2, progress=False)
    assert result.checked == 14 and result.failed == 2 and result.reasons == {"corrupt_image": 2}
    bad = {p.path.rsplit("/", 1)[-1] for p in m.problems if p.kind == "corrupt_image"}
    assert bad == {"truncated.jpg", "text.jpg"}
    assert len(m) == 12 and not m.table["image_id"].str.contains("truncated|text").any()
    assert m.problem_counts() == {"empty_file": 1, "corrupt_image": 2}


def test_check_reports_byte_identical_copies(tmp_path):
    root = tmp_path / "dups"
    for person in ("Ada", "Bob"):
        for i in range(10):
            jpeg(root / person / f"{i}.jpg", i * 20 + (person == "Bob"), size=(24, 24))
    (root / "Ada" / "copy.jpg").write_bytes((root / "Ada" / "3.jpg").read_bytes())
    (root / "Bob" / "copy.jpg").write_bytes((root / "Ada" / "3.jpg").read_bytes())
    m = read_source(root)
    result = check_images(m, workers=1, progress=False)
    assert result.failed == 0 and result.duplicates == 2
    dups = [p for p in m.problems if p.kind == "duplicate_image"]
    assert {p.path.rsplit("/", 2)[-2] for p in dups} == {"Ada", "Bob"} and len(m) == 22  # kept
    assert all("same bytes as Ada/" in p.detail for p in dups)
    split = dict(zip(m.table.image_id, m.table.split))
    expected_cross = sum(split[c] != split[first] for c, first in
                         (("Ada/copy.jpg", "Ada/3.jpg"), ("Bob/copy.jpg", "Ada/3.jpg")))
    assert result.cross_split_duplicates == expected_cross
    assert any("byte-identical" in n for n in m.notes)


def test_check_in_one_process_gives_the_same(people_with_bad_files):
    m = read_source(people_with_bad_files)
    assert check_images(m, workers=1, progress=False).failed == 2


def test_check_skips_csv_sources(tmp_path):
    info = source_info(make_fer_csv(tmp_path / "fer"), check=True, progress=False)
    assert info.check.checked == 0 and "pixel rows" in info.check.skipped_reason


def test_cli_info_tables(tmp_path, capsys):
    root = make_celeba(tmp_path / "c", kaggle=True, n=30, on_disk=set(range(1, 11)), extras=False)
    main(["data", "info", str(root)])
    out = capsys.readouterr().out
    for text in ("celeba-kaggle", "splits", "% positive", "Smiling", "missing_image", "20", "--check"):
        assert text in out


def test_cli_info_json_and_check(people_with_bad_files, capsys):
    main(["data", "info", str(people_with_bad_files), "--json", "--check", "--workers", "1"])
    d = json.loads(capsys.readouterr().out)
    assert d["layout"] == "folder" and d["images"] == 12
    assert d["problems"] == {"empty_file": 1, "corrupt_image": 2}
    assert d["balance"]["label"] == {"Ada": 6, "Bob": 6}
    assert d["check"]["failed"] == 2 and sum(d["splits"].values()) == 12


@pytest.mark.parametrize("make", ["empty", "missing", "bad_csv"])
def test_cli_bad_input_is_an_error_not_a_traceback(tmp_path, capsys, make):
    path = tmp_path / "src"
    if make == "empty":
        path.mkdir()
    elif make == "bad_csv":
        make_celeba(path, kaggle=True, extras=False)
        (path / "list_eval_partition.csv").write_text("image_id\n000001.jpg\n")
    with pytest.raises(SystemExit) as e:
        main(["data", "info", str(path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and "fix:" in err
