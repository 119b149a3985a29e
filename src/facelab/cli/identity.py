"""`facelab verify`, `verify-eval`, `identify` and `gallery ...`: who is in a photo (argument parsing only)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

DETECTOR_HELP = "Face detector (default: the gallery's, else facelab's default)."


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def verify_cmd(
    photos: List[Path] = typer.Argument(..., help="Two or more photos."),
    face: Optional[int] = typer.Option(None, "--face", help="Which face of each photo (0 = the largest; default the largest)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Distance threshold (0-2; default: the "
                                                                       "gallery's calibrated one, else the default)."),
    gallery: Optional[str] = typer.Option(None, "--gallery", help="Use this gallery's framing and calibrated threshold."),
    detector: Optional[str] = typer.Option(None, "--detector", help=DETECTOR_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the photos with the compared faces drawn (PNG/JPEG)."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Are these the same person? The distance between the main faces, decided at the threshold."""
    from ..identity.render import distance_table, verify_lines
    from ..identity.verify import verify

    res = verify(*photos, face=face, threshold=threshold, gallery=gallery, detector=detector)
    if out is not None:
        _write_drawing(res, photos, out)
    if json_:
        print(json.dumps({**res.to_dict(), "out": str(out) if out else None}, indent=1))
        return
    con = _console()
    if len(photos) > 2:
        con.print(distance_table([f.file for f in res.faces], res.distances, res.threshold.value), markup=False)
    for line in verify_lines(res):
        con.print(line, markup=False)
    if out is not None:
        con.print(f"drawn: {out}", markup=False)


def _write_drawing(res, photos, out: Path) -> None:
    import cv2

    from ..data.image import load_image
    from ..errors import DataError
    from ..identity.render import draw_verify
    from ..outputs import check_file

    out = check_file(out, what="image", recognise=lambda p: False)
    img = draw_verify(res, [load_image(p) for p in photos])
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise DataError(f"cannot write {out}", path=out, fix="give a .png or .jpg path you can write")


def verify_eval_cmd(
    people: Path = typer.Argument(..., help="A folder with one sub-folder of photos per person."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="CSV person,group for per-group figures."),
    folds: int = typer.Option(10, "--folds", help="People-disjoint folds (LFW: 10)."),
    pairs_per_fold: int = typer.Option(600, "--pairs-per-fold", help="Pairs per fold, half genuine (LFW: 600)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the pairs."),
    detector: Optional[str] = typer.Option(None, "--detector", help=DETECTOR_HELP),
    workers: int = typer.Option(2, "--workers", help="Embedding processes."),
    save_threshold: Optional[str] = typer.Option(None, "--save-threshold", help="Store the threshold in this gallery."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (HTML, ROC/DET, histograms, worst pairs)."),
    json_: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Calibrate the threshold on your own people: 10-fold accuracy, ROC/DET, EER, TAR@FAR."""
    from ..identity.evaluate import verify_eval

    res = verify_eval(people, groups=groups, folds=folds, pairs_per_fold=pairs_per_fold, seed=seed,
                      detector=detector, workers=workers, save_threshold=save_threshold, out=out, progress=not json_)
    if json_:
        d = res.to_dict()
        d.pop("roc"), d.pop("hist")
        print(json.dumps({**d, "out": str(out) if out else None}, indent=1))
        return
    con = _console()
    tar = ", ".join(f"TAR@FAR={k} {v['tar']:.2%}" for k, v in res.tar_at_far.items())
    con.print(f"{res.people} people, {res.photos} photos, {res.pairs['fold_pairs']} pairs in {len(res.fold_accuracy)} "
              f"folds: accuracy {res.accuracy:.2%} ± {res.accuracy_std:.2%}; EER {res.eer:.2%}; {tar}")
    con.print(f"verification threshold {res.threshold:.4f}")
    o = res.open_set
    if o:
        con.print(f"identification (open set, each person left out in turn against a gallery of the others, "
                  f"{o['gallery_per_person']} photos each): threshold {o['threshold']:.4f} rejects "
                  f"{o['unknown_rejected']:.1%} of unknowns; rank-1 {o['rank1']:.1%}, named at the threshold "
                  f"{o['known_identified']:.1%}", markup=False)
    gc = res.group_cut
    if gc.get("cut") is not None:
        joined = f", groups joined below {gc['join']:.3f}" if gc.get("join") else ""
        con.print(f"grouping a library (Ward's linkage): cut {gc['cut']:.2f}{joined}; these photos grouped at it: "
                  f"pairwise precision {gc['precision']:.3f}, recall {gc['recall']:.3f}", markup=False)
    if save_threshold:
        con.print(f"saved in the gallery {save_threshold}", markup=False)
    for g, v in res.groups.items():
        con.print(f"  {g}: {v['people']} people, EER {v['eer']:.2%}, FRR {v['frr_at_threshold']:.2%}, "
                  f"FAR {v['far_at_threshold']:.2%} at the threshold", markup=False)
    if res.no_face:
        con.print(f"[yellow]{len(res.no_face)} photos without a face[/] (their pairs count as 'different')")
    if out:
        con.print(f"report: {Path(out) / 'index.html'}", markup=False)


def identify_cmd(
    gallery: str = typer.Argument(..., help="Gallery name (see `facelab gallery list`) or .sqlite path."),
    photos: List[str] = typer.Argument(..., help="Photos, folders (recursive) or globs."),
    top_k: int = typer.Option(3, "--top-k", help="Candidates per face."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Distance threshold (default: the gallery's)."),
    workers: int = typer.Option(2, "--workers", help="Embedding processes."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results file: .csv, .json or .parquet (one row per face)."),
    engine: str = typer.Option("local", "--engine", help="local, or spark (writes --out who.parquet; needs the "
                                                          "spark extra)."),
    master: Optional[str] = typer.Option(None, "--master", help="Spark master with --engine spark (default local[2])."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Who is in these photos? Per face: the nearest people of the gallery, or unknown."""
    from ..identity.identify import identify

    if engine != "local":
        from ..scale.identify import identify_spark
        from ..scale.spark import check_engine

        check_engine(engine)
        srep = identify_spark(gallery, photos, out=out, top_k=top_k, threshold=threshold, master=master,
                              progress=not json_)
        if json_:
            print(json.dumps(srep.to_dict(), indent=1))
        else:
            _console().print(f"{srep.faces} faces ({srep.known} known) in {srep.photos} photos, "
                             f"{srep.no_face} without a face; results: {srep.out}", markup=False)
        return
    rep = identify(gallery, photos, top_k=top_k, threshold=threshold, workers=workers, out=out, progress=not json_)
    if json_:
        print(json.dumps(rep.to_dict(), indent=1))
        return
    from rich.table import Table

    con = _console()
    t = Table(title=f"{len(rep.faces)} faces in {rep.photos} photos vs {rep.gallery}")
    for c in ("file", "face", "person", "distance", "next"):
        t.add_column(c, overflow="fold")
    if len(rep.faces) > 50:
        t.caption = "first 50 faces; write them all with --out who.csv"
    for f in rep.faces[:50]:
        t.add_row(Path(f.file).name, str(f.face), f.person, f"{f.distance:.3f}",
                  ", ".join(f"{c.person} {c.distance:.3f}" for c in f.candidates[1:]))
    con.print(t)
    th = rep.threshold
    con.print(f"{rep.known} known, {len(rep.faces) - rep.known} unknown at threshold {th.value:.3f} ({th.source})")
    for f, p in rep.problems:
        con.print(f"  {f}: {p}", markup=False)
    if rep.out:
        con.print(f"results: {rep.out}", markup=False)


def group_command(data: Path, *, by: str, threshold: Optional[float], method: str, out: Optional[Path],
                  link: bool, gallery: Optional[str] = None) -> None:
    """`facelab cluster PHOTOS --by identity`: one group per person (HTML, CSV, folders with --out)."""
    from ..errors import ConfigError
    from ..identity.group import group_photos
    from ..paths import home

    if by != "identity":
        raise ConfigError(f"unknown --by {by!r}", fix="use --by identity (or leave --by out for k-means)")
    report = out if out is not None else home() / "reports" / Path(data).resolve().name / "identity-groups"
    res = group_photos([data], threshold=threshold, method=method, out=report, copies=out is not None, link=link,
                       gallery=gallery, workers=2, progress=True)
    d = res.to_dict()
    con = _console()
    con.print(f"{d['people']} people and {d['alone']} faces alone among {d['faces']} faces of {d['photos']} photos "
              f"({method}, threshold {res.threshold.value:.3f}, {res.threshold.source})", markup=False)
    for f, p in res.problems[:10]:
        con.print(f"  {f}: {p}", markup=False)
    con.print(f"page: {res.html}\ntable: {res.csv}" + (f"\nfolders: {res.out}" if out is not None else ""), markup=False)


gallery_app = typer.Typer(help="Galleries of known people: add, list, show, remove.", no_args_is_help=True)


@gallery_app.command("add")
def gallery_add(
    name: str = typer.Argument(..., help="Gallery name or .sqlite path (made when new)."),
    photos: List[str] = typer.Argument(..., help="A folder with one sub-folder per person, or with --person: photos."),
    person: Optional[str] = typer.Option(None, "--person", help="Add these photos as this one person."),
    detector: Optional[str] = typer.Option(None, "--detector", help="Detector of a NEW gallery (default facelab's)."),
    workers: int = typer.Option(2, "--workers", help="Embedding processes."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for another writer of the gallery."),
) -> None:
    """Add people: `gallery add NAME people/` (one sub-folder per person) or `--person "Ann Lee" photos...`."""
    from ..errors import ConfigError
    from ..identity.enroll import add_people
    from ..identity.photos import expand_photos, people_folders

    if person is not None:
        paths, bad, _ = expand_photos(photos)
        if bad:
            raise ConfigError(f"{bad[0][0]}: {bad[0][1]}", path=bad[0][0], fix="check the photo paths")
        people = {person: paths}
    elif len(photos) != 1:
        raise ConfigError("give one folder of people (one sub-folder each), or --person NAME with photos",
                          fix='facelab gallery add NAME people/   or   facelab gallery add NAME --person "Ann Lee" a.jpg b.jpg')
    else:
        people = people_folders(photos[0])
    rep = add_people(name, people, detector=detector, workers=workers, progress=True, timeout=timeout)
    con = _console()
    con.print(f"{rep.gallery}: added {rep.change.added} faces of {len(rep.change.people)} people "
              f"({rep.photos} photos, {rep.seconds:.1f} s"
              + (f"; {rep.change.duplicates} already there" if rep.change.duplicates else "") + ")", markup=False)
    for f, n in rep.several[:10]:
        con.print(f"  {f}: {n} faces, the largest used", markup=False)
    for f, p in rep.skipped[:20]:
        con.print(f"  [yellow]left out[/] {f}: {p}")
    for w in rep.warnings:
        con.print(f"  [yellow]caution[/]: {w}")
    con.print(f"gallery: {rep.path}", markup=False)


@gallery_app.command("list")
def gallery_list(json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """The galleries in $FACELAB_HOME/galleries."""
    from ..errors import FacelabError
    from ..identity.gallery import list_galleries, open_gallery

    rows = []
    for p in list_galleries():
        try:
            with open_gallery(p) as g:
                rows.append(g.to_dict())
        except FacelabError as e:  # one damaged file does not hide the others
            rows.append({"name": p.stem, "path": str(p), "error": str(e).splitlines()[0]})
    if json_:
        print(json.dumps(rows, indent=1))
        return
    con = _console()
    if not rows:
        con.print("no galleries yet: `facelab gallery add NAME people/` makes one")
    for r in rows:
        con.print(f"{r['name']}: " + (r["error"] if "error" in r else f"{r['people']} people, {r['faces']} faces, "
                                      f"{r['framing']['detector']} detector"), markup=False)


@gallery_app.command("show")
def gallery_show(name: str = typer.Argument(..., help="Gallery name or path."),
                 person: Optional[str] = typer.Option(None, "--person", help="One person's faces."),
                 json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """The people of a gallery (or one person's photos), its framing and threshold."""
    from ..identity.gallery import open_gallery

    with open_gallery(name) as g:
        info = g.to_dict()
        ppl = [g.person(person)] if person else g.people()
    rows = [{k: v for k, v in p.to_dict().items() if k != "face_rows"} | (
        {"faces_list": [{k: v for k, v in r.items() if k != "thumb"} for r in p.rows]} if p.rows else {}) for p in ppl]
    if json_:
        print(json.dumps({**info, "people_list": rows}, indent=1))
        return
    con = _console()
    th = info["threshold"]
    con.print(f"{info['name']} ({info['path']}): {info['people']} people, {info['faces']} faces; "
              f"{info['framing']['detector']} detector, mirror {info['framing']['mirror']}; threshold "
              + (f"{th['value']:.4f} ({th['source']})" if th else "default"), markup=False)
    for r in rows:
        con.print(f"  {r['name']}: {r['faces']} faces in {r['photos']} photos", markup=False)
        for f in r.get("faces_list", []):
            con.print(f"    {f['photo']} face {f['face']}", markup=False)


@gallery_app.command("remove")
def gallery_remove(name: str = typer.Argument(..., help="Gallery name or path."),
                   people: List[str] = typer.Argument(..., help="People to remove (with all their faces)."),
                   timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for another writer.")) -> None:
    """Remove people from a gallery (one transaction)."""
    from ..identity.gallery import open_gallery

    with open_gallery(name, timeout=timeout) as g:
        ch = g.remove(people)
    _console().print(f"removed {', '.join(ch.people)} ({ch.removed} faces)", markup=False)


def register(app: typer.Typer) -> None:
    """Add the identity commands to ``app``."""
    app.command("verify")(verify_cmd)
    app.command("verify-eval")(verify_eval_cmd)
    app.command("identify")(identify_cmd)
    app.add_typer(gallery_app, name="gallery")
