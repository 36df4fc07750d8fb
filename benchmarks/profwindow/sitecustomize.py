"""A cProfile window in a process started with this directory on PYTHONPATH and PROF_OUT set:
SIGUSR1 starts profiling the main thread (the hub's event loop), SIGUSR2 stops and writes the
stats to PROF_OUT. Used by ``benchmarks.bench_request_profile``."""

import os

if os.environ.get("PROF_OUT"):
    import cProfile
    import signal

    _profile = cProfile.Profile()

    def _start(*_args):  # noqa: ANN002
        _profile.enable()

    def _stop(*_args):  # noqa: ANN002
        _profile.disable()
        _profile.dump_stats(os.environ["PROF_OUT"])

    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
