"""`facelab data collect`: an image search and a URL list served from 127.0.0.1 (no internet), every
check (decode, size, duplicates within and across classes, faces), the logs, a resumed top-up, the
bad inputs; then the collected folder goes through `facelab data prepare` and `facelab train`."""
from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("icrawler", reason="icrawler (the `collect` extra) is not installed")
pytest.importorskip("imagehash", reason="imagehash (the `collect` extra) is not installed")

from collect_support import (Site, closed_port_url, encode, face_photo, no_face_photo, noise_png,  # noqa: E402
                             two_faces_png)
from predict_support import face  # noqa: E402

from facelab.cli.main import main  # noqa: E402
from facelab.collect import collect  # noqa: E402
from facelab.collect.fetch import Fetcher, RateLimiter  # noqa: E402
from facelab.collect.search import ENGINES, search  # noqa: E402
from facelab.errors import ConfigError, DataError  # noqa: E402

POLITE = dict(timeout=1.0, max_bytes=500_000, rate=100.0, threads=4, min_side=64)
ANN, BOB, NOBODY = "Ann Example", "Bob Example", "Nobody Known"


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def build_site(site: Site) -> dict:
    """Ann: every awkward case first, then plenty of good faces; Bob: a copy of Ann's first photo, then faces."""
    ann_good = [site.add(f"/img/ann{s}.jpg", face_photo(s)) for s in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11)]
    site.add("/img/ann13.jpg", face_photo(15))
    urls = dict(
        slow=site.add("/img/slow.jpg", face_photo(12), delay=2.5),
        dup=site.add("/img/ann1-copy.jpg", face_photo(1, quality=70)),
        group=site.add("/img/group.jpg", two_faces_png(), "image/png"),
        text=site.add("/img/text.jpg", b"this is not a photo at all", "image/jpeg"),
        gone=site.url("/img/gone.jpg"),
        moved=site.add("/img/moved.jpg", b"", status=302, headers={"Location": "/img/ann13.jpg"}),
        huge=site.add("/img/huge.jpg", noise_png(), "image/png"),
        landscape=site.add("/img/landscape.jpg", no_face_photo()),
        tiny=site.add("/img/tiny.jpg", encode(face(14)[::4, ::4])),
    )
    site.results[ANN] = [urls["slow"], ann_good[0]] + [urls[k] for k in
                                                       ("dup", "group", "text", "gone", "moved", "huge",
                                                        "landscape", "tiny")] + ann_good[1:]
    urls["ann_copy_for_bob"] = site.add("/img/bob-is-ann.jpg", face_photo(1))
    site.results[BOB] = [urls["ann_copy_for_bob"]] + [site.add(f"/img/bob{s}.jpg", face_photo(s))
                                                      for s in range(20, 30)]
    return urls


@pytest.mark.slow
def test_collect_search_top_up_prepare_train(tmp_path, runs_dir, capsys):
    out = tmp_path / "people"
    with Site() as site:
        urls = build_site(site)
        # one thread: the links are filed in page order, so which ones fill the quota is fixed
        rep = collect([ANN, BOB, NOBODY], per_class=6, out=out, search_url=site.base, **{**POLITE, "threads": 1})

        assert rep.complete and json.loads((out / ".facelab-collect.json").read_text())["complete"] is True
        ann, bob, nobody = rep.classes
        assert (ann.kept, ann.downloaded, ann.several_faces) == (6, 6, 1)
        assert ann.rejected == {"timeout": 1, "duplicate": 1, "not_image": 1, "HTTP 404": 1, "too_large": 1,
                                "no_face": 1, "too_small": 1}
        assert (bob.kept, bob.rejected) == (6, {"same_photo_other_class": 1})
        assert (nobody.kept, nobody.short, nobody.note) == (0, 6, "no results")
        assert not (out / NOBODY).exists()

        # the folders: kept images with the extension of what they are; the set-aside ones beside
        kept = sorted(p.name for p in (out / ANN).iterdir())
        assert len(kept) == 6 and sum(n.endswith(".png") for n in kept) == 1  # the group photo is a PNG
        assert len(list((out / "rejected" / ANN).iterdir())) == 4  # duplicate, text, no face, too small
        assert len(list((out / "rejected" / BOB).iterdir())) == 1

        sources = rows(out / "sources.csv")
        assert len(sources) == 12 and all(r["time"].endswith("Z") for r in sources)
        assert {r["class"] for r in sources} == {ANN, BOB}
        assert urls["moved"] in {r["url"] for r in sources}  # a redirect is credited to the link given
        assert all((out / r["file"]).is_file() for r in sources)
        reasons = {r["url"]: r["reason"] for r in rows(out / "rejected" / "reasons.csv")}
        assert reasons[urls["gone"]] == "HTTP 404"
        assert reasons[urls["text"]].startswith("not an image")
        assert reasons[urls["huge"]].startswith("larger than the size cap")
        assert reasons[urls["slow"]].startswith("no answer within")
        assert reasons[urls["tiny"]].startswith("too small")
        assert reasons[urls["ann_copy_for_bob"]].startswith(f"same photo as {ANN}/")
        review = rows(out / "review.csv")
        assert any(r["flag"].startswith("2 faces") and r["url"] == urls["group"] for r in review)
        twin = [r for r in review if r["class"] == ANN and f"also found under '{BOB}'" in r["flag"]]
        assert len(twin) == 1 and twin[0]["url"] in (site.url("/img/ann1.jpg"), urls["dup"])
        assert urls["ann_copy_for_bob"] in twin[0]["flag"]
        report = json.loads((out / "collection.json").read_text())
        assert report["classes"][0]["rejected"]["no_face"] == 1 and "owners' rights" in report["rights"]

        # a second run tops up to 8 per class, from the CLI, fetching no image twice
        first_hits = {p: n for p, n in site.hits.items() if p.startswith("/img/")}
        main(["data", "collect", ANN, BOB, "--per-class", "8", "--out", str(out), "--search-url", site.base,
              "--timeout", "1", "--max-bytes", "500000", "--rate", "100", "--threads", "2"])
        printed = capsys.readouterr().out
        assert ANN in printed and "owners' rights" in printed and "facelab data prepare" in printed
        assert all(n == 1 for p, n in site.hits.items() if p.startswith("/img/")), site.hits
        assert len(first_hits) < len([p for p in site.hits if p.startswith("/img/")])
    report = json.loads((out / "collection.json").read_text())
    assert [(c["before"], c["downloaded"], c["kept"]) for c in report["classes"]] == [(6, 2, 8), (6, 2, 8)]
    assert len(rows(out / "sources.csv")) == 16

    # the collection is a folder facelab reads: prepare it, train on it
    from facelab.data.prepared import open_prepared

    cache = tmp_path / "cache"
    main(["data", "prepare", str(out), "--size", "32", "--out", str(cache), "--workers", "1"])
    assert capsys.readouterr().out.startswith("16 images")
    ds = open_prepared(cache)
    assert len(ds) == 16 and ds.manifest.labels["label"].classes == [ANN, BOB]
    assert [p.kind for p in ds.manifest.problems] == ["set_aside"]  # rejected/ is not taken for a class
    main(["train", str(cache), "--target", "label", "--model", "logreg", "--name", "collected",
          "--no-progress", "--param", "n_components=4"])
    assert (runs_dir / "collected").is_dir()


def test_url_list_and_bad_input(tmp_path, capsys):
    with Site() as site:
        links = [site.add(f"/p/{s}.jpg", face_photo(s)) for s in (1, 2, 3)]
        good = tmp_path / "urls.csv"
        good.write_text("class,url\n# people I have links for\n"
                        f"Cat A,{links[0]}\nCat A,{links[1]}\n\n\"B, the second\",{links[2]}\n"
                        f"B, the second,{site.url('/p/missing.jpg')}\n".replace("B, the second,", '"B, the second",'))
        rep = collect(urls=good, per_class=2, out=tmp_path / "mine", **POLITE)
        assert [(c.name, c.kept) for c in rep.classes] == [("Cat A", 2), ("B, the second", 1)]
        assert rep.classes[1].rejected == {"HTTP 404": 1} and rep.complete
        assert rep.source.startswith("urls:")

        # only some classes of the file; a name not in it
        rep = collect(["Cat A"], urls=good, per_class=2, out=tmp_path / "mine", **POLITE)
        assert [c.name for c in rep.classes] == ["Cat A"] and rep.classes[0].note == "already complete"
        with pytest.raises(DataError, match="not in the URL list"):
            collect(["Dog"], urls=good, out=tmp_path / "mine2", **POLITE)

    bad = tmp_path / "bad.csv"
    bad.write_text(f"class,url\nCat A,{links[0]}\njust-a-name\n")
    with pytest.raises(DataError, match="line 3") as e:
        collect(urls=bad, out=tmp_path / "x", **POLITE)
    assert str(bad) in str(e.value) and not (tmp_path / "x").exists()
    bad.write_text("Cat A,ftp://example.org/a.jpg\n")
    with pytest.raises(DataError, match="line 1.*not an http"):
        collect(urls=bad, out=tmp_path / "x", **POLITE)
    with pytest.raises(SystemExit) as e:  # the CLI: a message, exit 2, no traceback
        main(["data", "collect", "--urls", str(bad), "--out", str(tmp_path / "x")])
    assert e.value.code == 2 and "line 1" in capsys.readouterr().err

    # --out: a folder of something else is left alone; an unwritable one is named
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a facelab collection"):
        collect(urls=good, out=other, **POLITE)
    assert [p.name for p in other.iterdir()] == ["chapter1.txt"]
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write") as e:
        collect(urls=good, out=blocker / "people", **POLITE)
    assert "a-file" in str(e.value)
    with pytest.raises(ConfigError, match="unknown search engine"):
        collect(["Ann"], engine="altavista", out=tmp_path / "y")


@pytest.mark.parametrize("mode", ["search", "urls"])
def test_no_network_is_a_clear_error_and_not_complete(tmp_path, mode):
    dead = closed_port_url()
    out = tmp_path / "people"
    if mode == "search":
        call = dict(names=["Ann Example"], search_url=dead)
        match = "cannot reach the bing image search"
    else:
        (tmp_path / "u.csv").write_text(f"Ann,{dead}/a.jpg\nAnn,{dead}/b.jpg\n")
        call = dict(urls=tmp_path / "u.csv")
        match = "no URL could be reached"
    with pytest.raises(DataError, match=match):
        collect(out=out, **call, **POLITE)
    marker = json.loads((out / ".facelab-collect.json").read_text())
    assert marker["complete"] is False
    assert json.loads((out / "collection.json").read_text())["complete"] is False
    assert not (out / "sources.csv").exists()


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_each_engine_parses_its_result_page(engine):
    with Site() as site:
        links = [site.url(f"/img/{i}.jpg") for i in range(5)]
        site.results["Ann Example"] = links
        found = search(ENGINES[engine], "Ann Example", max_num=3, base_url=site.base, timeout=2)
        assert found.urls == links[:3] and found.pages_ok >= 1 and not found.unreachable
        assert search(ENGINES[engine], "Nobody", max_num=5, base_url=site.base, timeout=2).urls == []


def test_size_cap_while_streaming_and_rate_limit():
    import time

    with Site() as site:
        url = site.add("/big.png", noise_png(300), "image/png", headers={"no-length": True})
        got = Fetcher(timeout=5, max_bytes=50_000, rate=0).get(url)
        assert got.kind == "too_large" and "> 50000" in got.reason
        assert Fetcher(timeout=5, max_bytes=10_000_000, rate=0).get(url).ok
        assert Fetcher(timeout=5).get("not a url").kind == "bad_url"
    limiter, t0 = RateLimiter(20.0), time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - t0 >= 0.25  # 6 starts at 20/s: 5 intervals of 50 ms
