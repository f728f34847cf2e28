"""Long stages show bars with an ETA on a terminal, and one plain line per stage in logs and CI."""

from __future__ import annotations

import io

import numpy as np

from trainer.cli import main
from trainer.progress import Progress, stage


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_epoch_with_the_eta_and_one_line_per_finished_stage():
    log = io.StringIO()
    with Progress(stream=log).active():
        with stage("warm start", total=3, unit="epoch", lines="each") as epochs:
            for epoch in range(3):
                with stage(f"warm start epoch {epoch + 1}/3", total=50, unit="step", lines="none", transient=True) as s:
                    for _ in range(50):
                        s.update(1, loss="0.5")
                epochs.update(1, loss=f"{0.9 - epoch / 10:.4f}")
        with stage("final fit", total=1, unit="fit") as final:
            final.update(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("warm start: epoch 1/3 done, 00:00 elapsed, ETA 00:00, loss 0.9000")
    assert lines[2].startswith("warm start: epoch 3/3 done, 00:00 elapsed, loss 0.7000")  # last one: no ETA
    assert lines[3].startswith("final fit: done in 00:00")
    assert "\r" not in log.getvalue()  # no bar redraws in a log


def test_short_transient_stages_print_nothing_in_a_log_and_long_ones_one_line():
    log = io.StringIO()
    with Progress(stream=log, delay=3600).active():
        with stage("embedding", total=10, unit="paragraph", transient=True) as bar:
            bar.update(10)
    assert log.getvalue() == ""
    with Progress(stream=log, delay=0).active():
        with stage("embedding", total=10, unit="paragraph", transient=True) as bar:
            bar.update(10)
    assert log.getvalue().splitlines() == ["embedding: 10/10 paragraphs in 00:00"]


def test_a_terminal_gets_a_tqdm_bar_with_the_remaining_time():
    screen = Terminal()
    progress = Progress(stream=screen)
    assert progress.bars
    with progress.active(), stage("cross-validation", total=5, unit="fold", lines="none") as folds:
        folds.update(2)
        with stage("warm start", total=6, unit="epoch", lines="each") as epochs:
            assert folds.bar.leave and not epochs.bar.leave  # a finished nested bar makes way for the next
    drawn = screen.getvalue()
    assert "cross-validation" in drawn and "2/5" in drawn
    assert "<" in drawn  # tqdm's [elapsed<remaining]


def test_no_active_progress_means_silence(capsys):
    """Model code opens stages everywhere; outside a training run (e.g. `trainer tag`) they draw nothing."""
    with stage("embedding", total=10, unit="paragraph") as bar:
        bar.update(10)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_embedding_reports_its_progress_during_a_run(tiny_bert):
    from trainer.models.encoder import embed, load_encoder

    tokenizer, encoder = load_encoder(str(tiny_bert))
    log = io.StringIO()
    with Progress(stream=log, delay=0).active():
        vectors = embed(["全年受理法律援助案件608宗。"] * 40, tokenizer, encoder, max_length=32)
    assert vectors.shape[0] == 40 and np.isfinite(vectors).all()
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("embedding: 40/40 paragraphs in ")


def test_train_in_a_log_prints_stage_lines_and_no_bars(store, capsys):
    """`trainer train ... 2> train.log`: stderr is not a terminal, so each stage prints a line instead of a bar."""
    assert main(["train", "configs/keywords.yaml", "--set", f"tracking.tracking_uri={store}",
                 "--set", "tracking.register_model=false"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "final fit: done in " in captured.err
    assert "\r" not in captured.err
    fold_lines = [line for line in captured.out.splitlines() if line.startswith("  fold ")]
    assert len(fold_lines) == 5 + 5  # one per seed report, and evaluation.real_folds folds of real documents
