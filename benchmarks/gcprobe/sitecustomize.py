# GC pause probe for the benchmarks (on PYTHONPATH of the hub they start; inert without GC_PROBE_LOG): logs every collection over 20 ms to $GC_PROBE_LOG,
# with the collection's CPU time (wall >> cpu: the process was waiting for a core, not collecting),
# and once, after 60 s, the object count by type. GC_PROBE_DETAIL=1 adds the young generations' size.
import gc, os, time, collections
_path = os.environ.get("GC_PROBE_LOG")
if _path:
    _start = {}
    _t0 = time.time()
    _done = []
    _detail = bool(os.environ.get("GC_PROBE_DETAIL"))
    def _cb(phase, info):
        if phase == "start":
            g = info["generation"]
            if _detail and g < 2:  # costs a walk of the young generations: diagnosis only
                young = [o for i in range(g + 1) for o in gc.get_objects(i)]
                _start["young"] = len(young)
                if len(young) > 30000:
                    c = collections.Counter(type(o).__qualname__ for o in young)
                    with open(_path, "a") as f:
                        f.write(f"young gen{g}: {len(young)}: {c.most_common(8)}\n")
                del young
            _start["cpu"] = time.thread_time()
            _start["t"] = time.perf_counter()
            return
        dt = time.perf_counter() - _start.get("t", time.perf_counter())
        if dt > 0.02:
            with open(_path, "a") as f:
                cpu = (time.thread_time() - _start.get("cpu", time.thread_time())) * 1000
                f.write(f"{time.time():.3f} gen{info['generation']} {dt*1000:.1f}ms collected={info['collected']}"
                        f" cpu={cpu:.1f}ms objects={_start.get('young')}\n")
        if info["generation"] == 2 and not _done and time.time() - _t0 > 60:
            _done.append(1)
            objs = gc.get_objects()
            c = collections.Counter(type(o).__qualname__ for o in objs)
            with open(_path, "a") as f:
                f.write(f"objects tracked: {len(objs)}\n")
                for k, v in c.most_common(25):
                    f.write(f"  {v:9d} {k}\n")
    gc.callbacks.append(_cb)
