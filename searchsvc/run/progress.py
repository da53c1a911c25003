"""Progress of a running sweep on stderr: counts by status, best score so far, ETA.

On a terminal one line is redrawn in place, at most five times a second; otherwise (CI logs, pipes) a
line is printed when trials have finished, at most one a second, and the last at the end. The line counts
every trial started, so it is drawn at a bounded rate, not per trial. ``--quiet`` turns it off.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from typing import Any, TextIO

from searchsvc.run.recorder import DriverCallback, TrialRecorder
from searchsvc.run.protocol import is_final
from searchsvc.status import TrialStatus

#: the fastest redraw on a terminal, and the fastest line in a log, in seconds
_LIVE_EVERY_S, _LOG_EVERY_S = 0.2, 1.0
#: the statuses a trial can end in, in the order the line shows them
_ENDED = [s for s in TrialStatus if s.has_result and s is not TrialStatus.OK]


def format_progress(counts: Counter[str], total: int, best: tuple[int, float] | None, metric: str,
                    elapsed: float) -> str:
    done = sum(n for s, n in counts.items() if TrialStatus(s).has_result)
    parts = [f"[{done}/{total}]", f"ok {counts[TrialStatus.OK]}", f"running {counts[TrialStatus.RUNNING]}"]
    parts += [f"{s} {counts[s]}" for s in _ENDED if counts[s]]
    line = " ".join(parts)
    if best is not None:
        line += f" | best {metric} {best[1]:.4g} (trial {best[0]})"
    line += f" | {_clock(elapsed)}"
    if 0 < done < total:
        line += f", ETA {_clock(elapsed / done * (total - done))}"
    return line


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{s:02d}s"


class Progress(DriverCallback):
    """Reads the recorder's state (so it must come after it in Tune's callback list)."""

    def __init__(self, recorder: TrialRecorder, total: int, metric: str, mode: str, stream: TextIO | None = None) -> None:
        self.recorder, self.total, self.metric, self.mode = recorder, total, metric, mode
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.start = time.monotonic()
        self._last_draw = -math.inf
        self._unshown = False  # trials finished since the last line (not live)

    def line(self) -> str:
        states = self.recorder.trials.values()
        counts = Counter(s.record.status for s in states)
        scored = [(s.record.trial_index, s.record.val_score) for s in states if s.record.val_score is not None]
        sign = 1 if self.mode == "max" else -1
        best = max(scored, key=lambda t: sign * t[1]) if scored else None
        return format_progress(counts, self.total, best, self.metric, time.monotonic() - self.start)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._draw()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        if is_final(result):
            self._draw(finished=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._draw(finished=True)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self._draw()  # keeps a terminal's clock ticking; writes a log's line held back by the rate

    def close(self) -> None:
        if self.live or self._unshown:
            self._draw(finished=True, now=True)
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, finished: bool = False, now: bool = False) -> None:
        self._unshown = self._unshown or finished
        if not now and time.monotonic() - self._last_draw < (_LIVE_EVERY_S if self.live else _LOG_EVERY_S):
            return
        if self.live:
            self.stream.write("\r\x1b[2K" + self.line())
        elif self._unshown:
            self.stream.write(self.line() + "\n")
        else:
            return
        self.stream.flush()
        self._last_draw, self._unshown = time.monotonic(), False
