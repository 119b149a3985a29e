"""The library reports through logging and warnings; the CLI renders them as plain lines."""
from __future__ import annotations

import logging
import warnings

from facelab.cli.common import library_output


def test_log_records_become_plain_lines_on_stderr(capsys):
    with library_output():
        logging.getLogger("facelab.data.cache").info("reusing %s (same options)", "/tmp/cache")
        logging.getLogger("facelab.x").debug("not shown")
        logging.getLogger("elsewhere").info("not facelab's")
    err = capsys.readouterr().err
    assert err.splitlines() == ["reusing /tmp/cache (same options)"]


def test_warnings_become_one_line_and_the_handler_is_removed_after(capsys):
    with library_output():
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("the split is tiny", UserWarning)
    assert capsys.readouterr().err == "warning: the split is tiny\n"
    logging.getLogger("facelab.y").info("after the command")
    assert capsys.readouterr().err == ""  # no handler left behind: library users choose their own
    assert not any(type(h).__name__ == "LineHandler" for h in logging.getLogger("facelab").handlers)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_a_library_step_logs_what_it_did(synth_folder, tmp_path):
    from facelab.faces.prepare_align import prepare

    prepare(synth_folder, size=24, out=tmp_path / "c", progress=False)
    logger, seen = logging.getLogger("facelab"), _Records()
    old = logger.level
    logger.addHandler(seen)
    logger.setLevel(logging.INFO)
    try:
        prepare(synth_folder, size=24, out=tmp_path / "c", progress=True)
    finally:
        logger.removeHandler(seen)
        logger.setLevel(old)
    assert any(m.startswith("reusing ") for m in seen.messages), seen.messages
