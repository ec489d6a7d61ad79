"""awalk: the asyncio walk.  Scheduling scans on an executor, order, cancellation.

Two halves meet in a tree of :class:`_Directory` nodes:

* **The walk** runs on the event loop's thread.  It is ``rwalk.walk``'s loop written
  over an explicit stack of nodes (so, like ``walk``, it has no depth limit): it takes
  each directory's listing in ``os.walk``'s order, yields the tuple, calls ``onerror``,
  and after a top-down yield reads the caller's edited ``dirnames``.  It never touches
  the file system itself.

* **The scans** run on executor threads, as *jobs*.  A job is handed a few unscanned
  directories and scans them and their subdirectories depth-first -- the very order in
  which the walk will want them -- through :func:`rwalk._scan.scan_directory`, until it
  has spent a small time budget or scanned its quota of directories; it returns the
  listings and stops.  On a fast local disk one job scans a hundred directories or
  more, so the ~80 us cost of a hop to a thread and back is shared by all of them; on a
  slow (network) file system a job finishes after one or two directories and many jobs
  run side by side.  How many jobs run at once adapts to the ratio of wall time to CPU
  time the jobs report: I/O latency raises it; with CPU-bound listing no job runs
  beside the walk (on two cores the GIL made both wait), one starts when the walk
  needs it.

The loop thread replays each job's depth-first order to attach the listings to nodes,
and keeps the unscanned remainder as the *frontier* from which the next jobs are cut.
Scans are speculative: a directory is scanned before the caller has seen its parent.
When the caller prunes a name from ``dirnames``, the node under that name and
everything below it is discarded: its listings are dropped unseen and its errors are
never reported.  The number of directories scanned ahead of the caller (held or in
flight) never exceeds ``read_ahead``, whatever the size of the tree and however slow
the caller.

``docs/design.md`` (the awalk section) records the measurements behind these choices.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import os
import queue
import sys
import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from functools import partial
from typing import Any, AnyStr, Generic, TypeAlias

from ._options import check_walk_arguments, make_options
from ._scan import Listing, scan_directory, subdirectories_to_enter
from ._walk import EntryTuple, OnError, WalkTuple, _walk_with_options

__all__ = ("DEFAULT_CONCURRENCY", "DEFAULT_READ_AHEAD", "DEFAULT_THREADS", "awalk")

DEFAULT_THREADS = 32
"""Threads in rwalk's shared scanning pool (used when no ``executor`` is given).

Listing is I/O-bound on network file systems: 32 threads hide a 1 ms round trip
per directory 20-fold on a 2-core machine, where the event loop's default executor
(``min(32, cores + 4)`` = 6 threads here) would hide it only 6-fold.  At most one file
descriptor per thread is open at any moment.
"""

DEFAULT_CONCURRENCY = 32
"""Most scan jobs one walk keeps in flight at once (the adaptive limit's ceiling)."""

DEFAULT_READ_AHEAD = 1024
"""Most directories one walk holds scanned (or is scanning) ahead of its caller."""

# A job stops after this much wall time (or after _JOB_MAX_DIRECTORIES): long enough
# that the hop to the thread and back is a few percent of a job on a local disk, short
# enough that a slow directory's subdirectories are soon handed to other jobs.
_JOB_SECONDS = 0.004
_JOB_MAX_DIRECTORIES = 1024
# A directory slower than this ends its job (see _scan_depth_first): a warm local one
# takes 10-50 us, a network round trip 0.5 ms or more.
_SLOW_DIRECTORY_SECONDS = 0.0005
# Speculative jobs in flight when listing is CPU-bound: none.  A scanner running
# beside the walk only fights the loop thread (and the link checker) for the GIL.
_MIN_PARALLEL_JOBS = 0
# A job whose wall time is this many times its thread's CPU time waited on I/O: the
# limit on parallel jobs doubles.  Below _CPU_BOUND_RATIO it halves (down to 0).
_IO_BOUND_RATIO = 4.0
_CPU_BOUND_RATIO = 2.0
# The longest the walk runs on the loop without letting other tasks in.
_TURN_SECONDS = 0.002
# How long the loop thread waits in place for a link check before awaiting it.
_CHECK_WAIT_SECONDS = 0.0002

_UNSCANNED, _IN_FLIGHT, _SCANNED, _TAKEN = range(4)


class _ScanCrash:
    """A scan that raised something other than ``OSError`` (a bug, a patched scandir).

    Carried back like a listing, so that it is raised only if and when the walk
    reaches the directory, exactly where ``rwalk.walk`` would have raised it.
    """

    __slots__ = ("exception",)

    def __init__(self, exception: Exception) -> None:
        self.exception = exception


class _StopSignal:
    """Set by a closing walk; its running jobs look at it between two directories."""

    __slots__ = ("hungry", "stopped")

    def __init__(self) -> None:
        self.stopped = False
        # Set while the walk has room for more parallel jobs but nothing to give them:
        # a job that meets a slow directory then returns, so that the subdirectories
        # it found go out to parallel jobs.  Otherwise it carries on (fewer hops).
        self.hungry = False


_ScanResult: TypeAlias = Listing[AnyStr] | OSError | _ScanCrash
_JobOutcome: TypeAlias = tuple[list[_ScanResult[AnyStr]], float, float]


def _scan_depth_first(
    roots: Sequence[AnyStr],
    followlinks: bool,
    max_directories: int,
    seconds: float,
    stop: _StopSignal,
    *,
    hurry: _StopSignal,
) -> _JobOutcome[AnyStr]:
    """A job, run on an executor thread: scan ``roots`` and what lies below them.

    Directories are scanned in the walk's own order (depth-first, each directory's
    subdirectories in listing order), so that what is scanned first is needed first.
    Stops after ``max_directories`` directories, ``seconds`` of wall time, or one
    directory that took a quarter of that, or as soon as ``stop`` is set (a directory
    being scanned is finished first).

    :returns: the results in scanning order (the loop replays the same depth-first
        order to know which directory each belongs to), the job's wall time and the
        CPU time of its thread.  A module-level function of plain values, so that a
        process pool can run it too.
    """
    clock = time.perf_counter
    started = clock()
    cpu_started = time.thread_time()
    deadline = started + seconds
    results: list[_ScanResult[AnyStr]] = []
    pending = list(reversed(roots))
    # A directory slower than this is a sign of I/O latency: its subdirectories are
    # better handed out to parallel jobs than listed one after another here.
    slow = _SLOW_DIRECTORY_SECONDS
    scan_started = started
    while pending:
        # A bottom-up scan also gives enter_paths (subdirectories that are neither
        # links nor, without followlinks, links to directories), from the entries'
        # cached types: exactly the directories worth scanning ahead.
        try:
            result: _ScanResult[AnyStr] = scan_directory(pending.pop(), True, followlinks)
        except Exception as exception:
            results.append(_ScanCrash(exception))
            break
        results.append(result)
        if type(result) is tuple and result[2]:
            pending.extend(reversed(result[2]))
        now = clock()
        if (
            len(results) >= max_directories
            or now >= deadline
            or (now - scan_started >= slow and (stop.hungry or hurry.hungry))
            or stop.stopped
        ):
            break
        scan_started = now
    return results, clock() - started, time.thread_time() - cpu_started


def _check_links(top: AnyStr, dirnames: list[AnyStr]) -> list[AnyStr] | _ScanCrash:
    """A job: the post-yield symbolic-link check (bpo-23605) of a top-down walk."""
    try:
        return subdirectories_to_enter(top, dirnames, False)
    except Exception as exception:
        return _ScanCrash(exception)


class _CheckHandoff(Generic[AnyStr]):
    """A link check on rwalk's own threads, which the loop waits for briefly in place.

    The check follows every top-down yield of a directory with subdirectories, so its
    round trip is paid once per such directory.  Through the event loop (a
    ``call_soon_threadsafe`` self-pipe write, a loop iteration, a future, a task
    step) it cost about 80 us; a lock handed from the checker to the waiting loop
    thread costs a fraction of that.  The loop waits at most ``_CHECK_WAIT_SECONDS``
    (bounded, far below a heartbeat's 1 ms) and then, if the answer is late, awaits
    it as it awaits a job: the checker posts it through the loop.
    """

    __slots__ = ("_dirnames", "_done", "_guard", "_late", "_scheduler", "_serial", "_top", "answer")

    def __init__(
        self, scheduler: _Scheduler[AnyStr], serial: int, top: AnyStr, dirnames: list[AnyStr]
    ) -> None:
        self._scheduler: _Scheduler[AnyStr] = scheduler
        self._serial = serial
        self._top: AnyStr = top
        self._dirnames: list[AnyStr] = dirnames
        self.answer: list[AnyStr] | _ScanCrash | None = None
        self._late = False
        self._guard = threading.Lock()
        self._done = threading.Lock()
        self._done.acquire()

    def run(self) -> None:
        """On a checker thread."""
        answer = _check_links(self._top, self._dirnames)
        with self._guard:
            self.answer = answer
            late = self._late
        self._done.release()
        if late:
            self._scheduler._post(self._serial, answer, None)

    def wait(self, seconds: float) -> list[AnyStr] | _ScanCrash | None:
        """On the loop: the answer if it comes within ``seconds``, else None (posted later)."""
        if self._done.acquire(seconds > 0, seconds if seconds > 0 else -1):
            return self.answer
        with self._guard:
            if self.answer is None:
                self._late = True
            return self.answer


class _Directory(Generic[AnyStr]):
    """One directory of the walk: its listing once scanned, its subdirectories' nodes."""

    __slots__ = ("children", "discarded", "path", "result", "state")

    def __init__(self, path: AnyStr, discarded: bool = False) -> None:
        self.path: AnyStr = path
        self.state = _UNSCANNED
        self.result: _ScanResult[AnyStr] | None = None
        # The nodes of enter_paths, keyed by path, once scanned.
        self.children: dict[AnyStr, _Directory[AnyStr]] | None = None
        # Pruned by the caller (or below a pruned directory): never shown.
        self.discarded = discarded


class _Job(Generic[AnyStr]):
    """A scan job in flight: the nodes it was handed, its quota, and its kind."""

    __slots__ = ("hurry", "max_directories", "roots", "speculative")

    def __init__(
        self, roots: list[_Directory[AnyStr]], max_directories: int, speculative: bool
    ) -> None:
        self.roots: list[_Directory[AnyStr]] = roots
        self.max_directories = max_directories
        # Its "hungry" is set when the walk waits for this job: it then returns at
        # its next slow directory.
        self.hurry = _StopSignal()
        self.hurry.hungry = not speculative
        # Counted against the adaptive parallel limit (jobs for a directory the walk
        # is waiting on are not).
        self.speculative = speculative


class _ExecutorFailure(RuntimeError):
    """The executor stopped running the walk's jobs (shut down, broken, cancelled)."""


class _Scheduler(Generic[AnyStr]):
    """Hands scan jobs to the executor and their results to the walk.

    Everything here runs on the event loop's thread, except
    :meth:`_done_from_any_thread`, which only forwards a finished job to the loop.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: Executor | _ScanThreads,
        followlinks: bool,
        concurrency: int,
        read_ahead: int,
    ) -> None:
        self._loop = loop
        self._executor = executor
        self._followlinks = followlinks
        self._concurrency = concurrency
        self._read_ahead = read_ahead
        # Adapted from the jobs' wall/CPU time ratio; starts at the floor.
        self._parallel = min(concurrency, _MIN_PARALLEL_JOBS)
        self._wait_ratio = 1.0
        # The frontier: the unscanned nodes whose parents are scanned, in walk order,
        # as the depth-first stack of one notional scanner would hold them.  It is cut
        # into segments, latest first: a list of nodes (whose *last* node is the
        # earliest), or a job in flight standing in for the nodes it took, which it
        # gives back as a list of what it left unscanned.  So jobs always start from
        # the earliest segment and the walk's next directories are scanned first.
        self._frontier: list[list[_Directory[AnyStr]] | _Job[AnyStr]] = []
        self._speculative_jobs = 0
        # With a user's executor: the futures of jobs in flight, to cancel on close.
        self._futures: dict[_Job[AnyStr] | int, Future[Any]] = {}
        # Directories scanned and not yet taken, plus the quotas of jobs in flight.
        self._reserved = 0
        self._closed = False
        self._stop = _StopSignal()
        self._failure: BaseException | None = None
        # What the walk is waiting for, and the future that wakes it.
        self._awaited_node: _Directory[AnyStr] | None = None
        self._check_result: list[AnyStr] | _ScanCrash | None = None
        self._check_serial = 0
        self._wakeup: asyncio.Future[None] | None = None
        # Outcomes posted by worker threads, for the loop to take (see _post).
        self._inbox: list[tuple[_Job[AnyStr] | int, Any, BaseException | None]] = []
        self._inbox_lock = threading.Lock()
        self._drain_posted = False
        # Set while the walk sleeps: then every outcome wakes the loop.  Otherwise
        # outcomes wake it only _post_threshold at a time, and the walk takes the
        # rest itself before it sleeps.  Each wake-up costs the loop thread a GIL
        # acquisition against busy workers (measured: starved for milliseconds).
        self._loop_waiting = False
        self._post_threshold = 1
        self._turn_taken = time.perf_counter()

    # -- the walk's side --------------------------------------------------------------

    def take(self, node: _Directory[AnyStr]) -> _ScanResult[AnyStr] | None:
        """The scan result of ``node`` if it is in, else None (then await :meth:`listing`).

        The walk's fast path: most directories are scanned before the walk reaches
        them, and a plain call costs less than creating a coroutine for each.
        """
        result = node.result
        if result is None or self._failure is not None:
            return None
        node.result = None
        node.state = _TAKEN
        self._reserved -= 1
        if self._speculative_jobs < self._parallel:
            self._schedule()
        return result

    def owes_the_loop_a_turn(self) -> bool:
        """True once per _TURN_SECONDS that the walk has run without awaiting.

        With listings ready and link checks answered in place, the walk never needs to
        await: without a turn now and then, it would keep other tasks waiting for a
        whole batch (measured: 11 ms gaps in a 1 ms heartbeat, top-down).
        """
        now = time.perf_counter()
        if now - self._turn_taken < _TURN_SECONDS:
            return False
        self._turn_taken = now
        return True

    async def listing(self, node: _Directory[AnyStr]) -> _ScanResult[AnyStr]:
        """The scan result of ``node``, scanning it now if no job has it yet."""
        while True:
            if self._failure is not None:
                raise self._failure
            result = self.take(node)
            if result is not None:
                return result
            if node.state == _UNSCANNED:
                # Needed now: a job whatever the limits, with at least a batch's quota.
                self._submit_urgent(node)
            self._awaited_node = node
            self._hurry_earliest_job()
            try:
                await self._sleep()
            finally:
                self._awaited_node = None

    async def subdirectories_to_enter(self, top: AnyStr, dirnames: list[AnyStr]) -> list[AnyStr]:
        """Run the post-yield link check on a worker, as ``os.walk`` runs it after a yield."""
        if self._followlinks:
            # Only joins names: no file-system call, no need for a thread.
            return subdirectories_to_enter(top, dirnames, True)
        # A copy: the names as they are now, after the caller's edits (as os.walk
        # reads them), whatever the caller does with its list later.
        self._check_serial += 1
        names = list(dirnames)
        if isinstance(self._executor, _ScanThreads) and not self._closed and self._failure is None:
            handoff = _CheckHandoff(self, self._check_serial, top, names)
            _default_checkers().run(handoff.run)
            # With scan jobs running, their threads hold the GIL between directories
            # and the loop would wait for it: then the loop does not wait in place.
            answer = handoff.wait(_CHECK_WAIT_SECONDS if self._speculative_jobs == 0 else 0)
            if answer is not None:
                if isinstance(answer, _ScanCrash):
                    raise answer.exception
                return answer
            # Slow (a network file system, a busy machine): the loop goes on with
            # other work; the checker posts its answer like any job.
        else:
            self._dispatch(self._check_serial, _check_links, top, names)
        try:
            while self._check_result is None:
                if self._failure is not None:
                    raise self._failure
                await self._sleep()
            result = self._check_result
        finally:
            self._check_result = None
        if isinstance(result, _ScanCrash):
            raise result.exception
        return result

    def adopt(self, node: _Directory[AnyStr], paths: list[AnyStr]) -> list[_Directory[AnyStr]]:
        """The nodes to walk into after ``node``'s yield, given the paths still wanted.

        Speculative nodes are reused by path; a path the caller added (or entered twice)
        gets a fresh node; nodes the caller pruned are discarded with their subtrees.
        """
        speculative = node.children or {}
        node.children = None
        adopted = []
        fresh = []
        for path in paths:
            child = speculative.pop(path, None)
            if child is None:
                child = _Directory(path)
                fresh.append(child)
            adopted.append(child)
        for pruned in speculative.values():
            self._discard(pruned)
        if fresh:
            # Fresh nodes are (about) the next the walk needs: the earliest segment.
            fresh.reverse()
            self._frontier.append(fresh)
        self._schedule()
        return adopted

    def children_of(self, node: _Directory[AnyStr]) -> list[_Directory[AnyStr]]:
        """A bottom-up walk enters every subdirectory it scanned (no pruning)."""
        children = node.children
        node.children = None
        return list(children.values()) if children else []

    def close(self) -> None:
        """Stop for good: cancel queued jobs, drop every result still to come.

        A job already running finishes on its worker (it closes its own directories)
        and its result is ignored; nothing new is submitted.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.stopped = True
        # rwalk's own threads skip a closed walk's queued jobs by themselves.
        for future in list(self._futures.values()):
            future.cancel()
        self._futures.clear()
        self._frontier.clear()
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.cancel()

    # -- scheduling -------------------------------------------------------------------

    def _hurry_earliest_job(self) -> None:
        """The walk waits: the earliest job in flight (which holds what the walk
        waits for, or the nearest to it) returns at its next slow directory."""
        for segment in reversed(self._frontier):
            if isinstance(segment, _Job):
                segment.hurry.hungry = True
                return

    def _room(self) -> int:
        return self._read_ahead - self._reserved

    def _schedule(self) -> None:
        """Cut speculative jobs from the earliest segments while the limits allow."""
        parallel = self._parallel
        signal = self._stop
        signal.hungry = False
        if parallel == 0:
            return
        # The room is shared among the jobs that may start, so that quotas reserved by
        # jobs that list two slow directories each do not starve the others.  Below a
        # share worth a hop, wait for more room rather than send out a job per
        # directory the caller takes (TCP's silly-window avoidance).
        smallest = max(1, min(self._read_ahead, _JOB_MAX_DIRECTORIES) // (2 * parallel))
        while self._speculative_jobs < parallel and not self._closed:
            free_slots = parallel - self._speculative_jobs
            quota = min(_JOB_MAX_DIRECTORIES, self._room() // free_slots)
            if quota < smallest:
                return
            if not self._cut_job(quota, free_slots):
                signal.hungry = True
                return

    def _submit_urgent(self, node: _Directory[AnyStr]) -> None:
        """Scan ``node``, which the walk is waiting for, and what follows it."""
        # One batch may go beyond read_ahead: waiting on scans one directory at a
        # time, while the quota is held by directories further on, would be slower
        # still.  So in-flight-or-held stays below read_ahead + one batch.
        quota = max(1, self._room(), min(self._read_ahead, _JOB_MAX_DIRECTORIES))
        if not self._cut_job(quota, 1, node):
            # Not where the frontier said (cannot happen, but never hang on it).
            self._start_job([node], quota, False, len(self._frontier))

    def _cut_job(
        self, quota: int, free_slots: int, urgent: _Directory[AnyStr] | None = None
    ) -> bool:
        """Start a job on the earliest live segment; False if there is none."""
        frontier = self._frontier
        for index in range(len(frontier) - 1, -1, -1):
            segment = frontier[index]
            if isinstance(segment, _Job):
                continue
            while segment and (segment[-1].state != _UNSCANNED or segment[-1].discarded):
                segment.pop()
            if not segment:
                del frontier[index]
                continue
            if urgent is not None and segment[-1] is not urgent:
                return False
            # Share the segment among the jobs that may start now, so that slow
            # directories go out in parallel and fast ones in one batch.
            count = min(quota, max(1, -(-len(segment) // free_slots)))
            roots = segment[-count:]
            roots.reverse()
            del segment[-count:]
            live = [root for root in roots if root.state == _UNSCANNED and not root.discarded]
            # The job's stand-in goes after (earlier than) what is left of the segment.
            position = index + 1 if segment else index
            if not segment:
                del frontier[index]
            if live:
                self._start_job(live, quota, urgent is None, position)
            return True
        return False

    def _start_job(
        self, roots: list[_Directory[AnyStr]], quota: int, speculative: bool, position: int
    ) -> None:
        job = _Job(roots, quota, speculative)
        paths = [root.path for root in roots]
        if not self._dispatch(
            job,
            partial(_scan_depth_first, hurry=job.hurry),
            paths,
            self._followlinks,
            quota,
            _JOB_SECONDS,
            self._stop,
        ):
            return
        for root in roots:
            root.state = _IN_FLIGHT
        self._reserved += quota
        if speculative:
            self._speculative_jobs += 1
        self._frontier.insert(position, job)

    # -- to the threads and back ------------------------------------------------------
    #
    # A job is identified by a token: its _Job, or the serial number of a link check.
    # Whatever thread finishes it posts (token, outcome, failure) to the loop with
    # call_soon_threadsafe, the only thread-safe entry into the loop; _finished, on
    # the loop, takes it from there.

    def _dispatch(
        self, token: _Job[AnyStr] | int, function: Callable[..., Any], *args: Any
    ) -> bool:
        """Start a job on the executor; False (and the walk failed) if it refused."""
        if self._closed or self._failure is not None:
            return False
        executor = self._executor
        if isinstance(executor, _ScanThreads):
            executor.run(partial(self._run_on_thread, token, function, args))
            return True
        try:
            future = executor.submit(function, *args)
        except RuntimeError as error:  # "cannot schedule new futures after shutdown"
            self._fail(
                _ExecutorFailure(f"rwalk.awalk: the executor refused new work ({error})"), error
            )
            return False
        self._futures[token] = future
        future.add_done_callback(partial(self._future_done, token))
        return True

    def _run_on_thread(
        self, token: _Job[AnyStr] | int, function: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        """On one of rwalk's own threads: run a job unless the walk is closed."""
        if self._closed:
            return
        try:
            outcome = function(*args)
        except BaseException as error:  # jobs catch scanning errors: this is a bug
            self._post(token, None, _ExecutorFailure(f"rwalk.awalk: a scan job failed: {error!r}"))
            raise
        self._post(token, outcome, None)

    def _future_done(self, token: _Job[AnyStr] | int, future: Future[Any]) -> None:
        """On whatever thread finished (or cancelled) a user executor's future."""
        if self._closed:
            return
        if future.cancelled():
            # close() cancels futures only after closing, so this was the executor
            # (shutdown(cancel_futures=True)).
            failure: BaseException = _ExecutorFailure(
                "rwalk.awalk: the executor cancelled a scan job (was it shut down?)"
            )
            self._post(token, None, failure)
            return
        error = future.exception()
        if error is not None:
            # Jobs catch what scanning raises: this is the executor's own failure
            # (a broken pool, a result that could not be sent back ...).
            failure = _ExecutorFailure(f"rwalk.awalk: a scan job failed: {error!r}")
            failure.__cause__ = error
            self._post(token, None, failure)
            return
        self._post(token, future.result(), None)

    def _post(self, token: _Job[AnyStr] | int, outcome: Any, failure: BaseException | None) -> None:
        if self._closed:
            return
        # Outcomes wait in an inbox, and the loop is woken only for the first of a
        # burst: jobs that finish together cost one self-pipe write and one loop
        # iteration, not one each.
        with self._inbox_lock:
            inbox = self._inbox
            inbox.append((token, outcome, failure))
            if self._drain_posted or not (
                self._loop_waiting
                or len(inbox) >= self._post_threshold
                or failure is not None
                or type(token) is int
            ):
                return
            self._drain_posted = True
        # RuntimeError: the event loop is closed, and nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        """On the loop: take every outcome posted since the last drain."""
        with self._inbox_lock:
            inbox = self._inbox
            self._inbox = []
            self._drain_posted = False
        for token, outcome, failure in inbox:
            self._finished(token, outcome, failure)
        self._schedule()

    def _finished(
        self, token: _Job[AnyStr] | int, outcome: Any, failure: BaseException | None
    ) -> None:
        """On the loop: take a finished job's outcome."""
        if self._closed:
            return
        self._futures.pop(token, None)
        if isinstance(token, _Job):
            self._reserved -= token.max_directories
            if token.speculative:
                self._speculative_jobs -= 1
        if failure is not None:
            self._fail(failure)
        elif isinstance(token, _Job):
            self._attach(token, outcome)
        else:
            self._check_answered(token, outcome)

    def _attach(self, job: _Job[AnyStr], outcome: _JobOutcome[AnyStr]) -> None:
        """Replay the job's depth-first order to give each result to its node."""
        results, wall_seconds, cpu_seconds = outcome
        self._adapt(wall_seconds, cpu_seconds)
        pending = job.roots[::-1]
        for result in results:
            node = pending.pop()
            node.state = _SCANNED
            if type(result) is tuple and result[2]:
                children = {path: _Directory(path, node.discarded) for path in result[2]}
                node.children = children
                pending.extend(reversed(children.values()))
            if not node.discarded:
                node.result = result
                self._reserved += 1
        leftover = []
        for node in pending:
            # Handed to the job, or found by it, but left unscanned when its budget
            # ran out: back to the frontier, in the job's place (pending, like a
            # segment, ends with the earliest).
            node.state = _UNSCANNED
            if not node.discarded:
                leftover.append(node)
        frontier = self._frontier
        index = frontier.index(job)
        if leftover:
            frontier[index] = leftover
        else:
            del frontier[index]
        awaited = self._awaited_node
        if awaited is not None and awaited.state != _IN_FLIGHT:
            self._wake()

    def _check_answered(self, serial: int, answer: object) -> None:
        # Only the walk's current check is awaited; an answer to an older one (whose
        # waiter was cancelled) is ignored.
        if serial == self._check_serial and not self._closed:
            self._check_result = answer  # type: ignore[assignment]
            self._wake()

    def _adapt(self, wall_seconds: float, cpu_seconds: float) -> None:
        """Size the parallel limit from how much of a job's time was spent waiting.

        A job whose thread was busy the whole time (local, cached directories) gains
        nothing from company but GIL contention; a job that mostly waited (network
        latency, a cold disk) leaves room for ``wall / cpu`` jobs to wait side by side.
        But with ``p`` jobs sharing the GIL, each also waits for the others: ``wall /
        cpu`` is about ``p + 1`` from contention alone.  So the limit grows only on a
        ratio well above that (measured: growing on ``ratio + 1`` fed on itself and
        made the warm 111k-entry walk 2.8x slower), and shrinks when the ratio falls
        well below it.
        """
        # Smoothed: one job that waited 5 ms for the GIL (the switch interval) must not
        # look like a network file system.
        ratio = self._wait_ratio = 0.75 * self._wait_ratio + 0.25 * (
            wall_seconds / max(cpu_seconds, 1e-6)
        )
        parallel = self._parallel
        if ratio >= _IO_BOUND_RATIO:
            # Waiting on I/O: double (from 0: straight to the ratio) up to the ceiling.
            parallel = max(2 * parallel, int(ratio))
        elif ratio < _CPU_BOUND_RATIO:
            parallel //= 2
        floor = min(self._concurrency, _MIN_PARALLEL_JOBS)
        self._parallel = max(floor, min(self._concurrency, parallel))
        self._post_threshold = max(1, self._parallel // 4)

    def _discard(self, node: _Directory[AnyStr]) -> None:
        """Drop a pruned node and everything scanned below it, unseen and unreported."""
        doomed = [node]
        while doomed:
            current = doomed.pop()
            current.discarded = True
            if current.result is not None:
                current.result = None
                self._reserved -= 1
            if current.children:
                doomed.extend(current.children.values())
                current.children = None

    def _fail(self, failure: BaseException, cause: BaseException | None = None) -> None:
        if self._failure is None:
            if cause is not None:
                failure.__cause__ = cause
            self._failure = failure
        self._wake()

    async def _sleep(self) -> None:
        """Wait until a job that may matter to the walk has finished."""
        with self._inbox_lock:
            ready = bool(self._inbox)
            self._loop_waiting = not ready
        if ready:
            # Outcomes not worth a wake-up on their own: take them, and let the
            # caller look again.
            self._drain()
            return
        self._wakeup = self._loop.create_future()
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            self._loop_waiting = False
            self._turn_taken = time.perf_counter()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)


# -- rwalk's own threads -------------------------------------------------------------


class _ScanThreads:
    """rwalk's default executor: a queue and up to ``size`` threads, shared by all walks.

    Not a ``concurrent.futures`` pool, because a walk waits for one hop to a thread
    and back after every top-down directory that has subdirectories (the post-yield
    link check), so the hop's cost is the walk's overhead: measured here, a
    ``run_in_executor`` round trip takes 56 us and a bare queue with a
    ``call_soon_threadsafe`` reply 28 us.  Tasks are plain callables that report
    through the walk's own callback; there are no futures to create or cancel.

    Threads start when work finds none idle, are daemons (a scan hung on a dead
    network mount cannot block exit), and are told to stop at exit; each gets a
    moment to finish the scan it is in, so directories are closed cleanly.
    """

    def __init__(self, size: int, name: str = "rwalk-scan") -> None:
        self._size = size
        self._name = name
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # Threads waiting for a task, and tasks waiting for a thread: a task must never
        # wait behind another while a thread could still be started.
        self._idle = 0
        self._queued = 0

    def run(self, task: Callable[[], None]) -> None:
        if sys.is_finalizing():
            # Python 3.10/3.11 let Thread.start() wait forever for a thread that the
            # shutting-down interpreter ends at once (3.12+ raise this error).
            raise RuntimeError("rwalk: cannot start a scan while the interpreter exits")
        thread = None
        with self._lock:
            self._tasks.put(task)
            self._queued += 1
            if self._queued > self._idle and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                # Counted idle from now, so that the next task does not start another.
                self._idle += 1
        # Started outside the lock: Thread.start() waits for the new thread to run, and
        # a thread must never be waited for while holding a lock the threads take.
        if thread is not None:
            thread.start()

    def _serve(self) -> None:
        get = self._tasks.get
        lock = self._lock
        while True:
            task = get()
            with lock:
                self._idle -= 1
                if task is None:
                    return
                self._queued -= 1
            try:
                task()
            except BaseException:
                pass
            finally:
                task = None
            with lock:
                self._idle += 1

    def stop(self, seconds: float) -> None:
        """Ask every thread to stop, and wait up to ``seconds`` in all for them."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._tasks.put(None)
        deadline = time.monotonic() + seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


_shared_threads: _ScanThreads | None = None
_shared_threads_lock = threading.Lock()
# At exit, running scans get this long in all to finish and close their directories.
_EXIT_GRACE_SECONDS = 1.0


def _default_executor() -> _ScanThreads:
    """rwalk's own threads, made on first use and shared by every walk of the process."""
    global _shared_threads  # noqa: PLW0603 - one pool per process, made lazily
    threads = _shared_threads
    if threads is None:
        with _shared_threads_lock:
            if _shared_threads is None:
                _shared_threads = _ScanThreads(DEFAULT_THREADS)
                atexit.register(_shared_threads.stop, _EXIT_GRACE_SECONDS)
            threads = _shared_threads
    return threads


_shared_checkers: _ScanThreads | None = None


def _default_checkers() -> _ScanThreads:
    """Threads for link checks only, so that a check never queues behind slow scans."""
    global _shared_checkers  # noqa: PLW0603 - one pool per process, made lazily
    checkers = _shared_checkers
    if checkers is None:
        with _shared_threads_lock:
            if _shared_checkers is None:
                _shared_checkers = _ScanThreads(DEFAULT_THREADS, "rwalk-check")
                atexit.register(_shared_checkers.stop, _EXIT_GRACE_SECONDS)
            checkers = _shared_checkers
    return checkers


def _forget_threads_after_fork() -> None:
    # A forked child has none of the parent's threads: tasks queued on the parent's
    # pool would wait for threads that do not exist.
    global _shared_threads, _shared_checkers, _shared_threads_lock  # noqa: PLW0603 - reset in a fork
    _shared_threads = None
    _shared_checkers = None
    _shared_threads_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)


# -- the walk ---------------------------------------------------------------------------


def awalk(
    top: AnyStr | os.PathLike[AnyStr],
    topdown: bool = True,
    onerror: OnError | None = None,
    followlinks: bool = False,
    *,
    executor: Executor | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    read_ahead: int = DEFAULT_READ_AHEAD,
    max_depth: int | None = None,
    detect_loops: bool = False,
    one_filesystem: bool = False,
    sort: bool | Callable[[AnyStr], Any] = False,
) -> AsyncGenerator[WalkTuple[AnyStr], None]:
    """Directory tree generator for asyncio: :func:`rwalk.walk` that never blocks the loop.

    ``async for dirpath, dirnames, filenames in awalk(top): ...`` yields the same
    tuples, in the same order, as :func:`rwalk.walk` (and CPython 3.13's
    :func:`os.walk`) with the same arguments: see ``rwalk.walk`` for the tuples,
    top-down pruning and reordering of ``dirnames``, bottom-up order, errors and
    symbolic links.  The order is deterministic, whatever the concurrency.

    Every file-system call (listing a directory, reading its entries' types, the
    symbolic-link check made after a top-down yield) runs on ``executor``'s threads;
    the event loop only orders results, calls ``onerror`` and yields.  Several
    directories are scanned at once and ahead of the caller, in batches sized to how
    fast they list; what the caller then prunes from ``dirnames`` is discarded unseen,
    and its errors are never reported.  Because directories are listed ahead of time,
    a directory's listing can predate what the caller did to it after seeing its
    parent; pass ``read_ahead=0`` to list each directory only when the walk reaches it,
    as ``os.walk`` does.

    ``onerror`` is called on the event loop's thread with each ``OSError``; if it
    returns an awaitable (a coroutine function, say), that is awaited before the walk
    goes on.  If it raises, the walk ends with that exception.

    The walk is an asynchronous generator: close it with ``await walk.aclose()`` or
    ``async with contextlib.aclosing(awalk(top)) as walk:``.  Closing, cancelling the
    task, or leaving an ``async for`` early submits no further work; a scan already
    running on a worker finishes there, closes its directory, and is ignored.  No file
    descriptor is held between yields.

    :param top: the root of the tree: ``str``, ``bytes`` or an ``os.PathLike``.
    :param topdown: yield each directory before (true) or after (false) its
        subdirectories.
    :param onerror: called on the loop with each ``OSError``; awaited if it returns
        an awaitable.
    :param followlinks: enter symbolic links to directories.
    :param executor: where scans run.  The default is rwalk's shared pool of
        :data:`DEFAULT_THREADS` threads.  Any ``concurrent.futures.Executor`` works
        (the jobs are plain module-level functions, so even a process pool); if it is
        shut down mid-walk, the walk raises ``RuntimeError``.
    :param concurrency: the most scan jobs this walk runs at once.  Within it, the
        number adapts: none ahead of the walk when directories list at CPU speed
        (a job starts when the walk needs one), more as listing waits on I/O.
    :param read_ahead: the most directories scanned, or being scanned, ahead of the
        caller; ``0`` scans a directory only when the walk reaches it.
    :param max_depth: see :func:`rwalk.walk`.
    :param detect_loops: see :func:`rwalk.walk`.
    :param one_filesystem: see :func:`rwalk.walk`.
    :param sort: see :func:`rwalk.walk`.
    :raises TypeError: at call time, for a ``top`` that is not a path, an ``onerror``
        that is not callable, an ``executor`` that is not an ``Executor``, or an option
        of the wrong type.
    :raises ValueError: at call time, for ``concurrency < 1``, ``read_ahead < 0``, or a
        negative ``max_depth``.

    With any of the options beyond ``os.walk`` set, the walk is :func:`rwalk.walk`'s
    own walk with options, advanced one directory per hop to an executor thread: the
    same tuples and errors, every file-system call off the loop, but no speculative
    scanning (``concurrency`` and ``read_ahead`` do not apply).
    """
    root: AnyStr = check_walk_arguments(top, onerror)
    _check_executor(executor)
    _check_count("concurrency", concurrency, 1)
    _check_count("read_ahead", read_ahead, 0)
    options = make_options(
        max_depth=max_depth, detect_loops=detect_loops, one_filesystem=one_filesystem, sort=sort
    )
    # As rwalk.walk and os.walk do: the arguments as given.
    sys.audit("rwalk.awalk", top, topdown, onerror, followlinks)
    if not options.is_plain:
        _check_thread_executor(executor)
        return _walk_with_options_on_threads(
            _walk_with_options(root, topdown, _collect_error, followlinks, options),
            onerror,
            executor,
        )
    walk_in_order = _walk_top_down if topdown else _walk_bottom_up
    return walk_in_order(
        root,
        onerror=onerror,
        followlinks=bool(followlinks),
        executor=executor,
        concurrency=concurrency,
        read_ahead=read_ahead,
    )


def awalk_entries(
    top: AnyStr | os.PathLike[AnyStr],
    topdown: bool = True,
    onerror: OnError | None = None,
    followlinks: bool = False,
    *,
    executor: Executor | None = None,
    max_depth: int | None = None,
    detect_loops: bool = False,
    one_filesystem: bool = False,
    sort: bool | Callable[[os.DirEntry[AnyStr]], Any] = False,
) -> AsyncGenerator[EntryTuple[AnyStr], None]:
    """:func:`rwalk.walk_entries` for asyncio: ``os.DirEntry`` lists, scans on threads.

    The same walk as :func:`rwalk.walk_entries`, advanced one directory per hop to
    ``executor`` (rwalk's shared threads by default); ``onerror`` runs on the loop and
    is awaited if it returns an awaitable.  Prune by editing ``directory_entries``.
    """
    root: AnyStr = check_walk_arguments(top, onerror)
    _check_executor(executor)
    _check_thread_executor(executor)
    options = make_options(
        max_depth=max_depth,
        detect_loops=detect_loops,
        one_filesystem=one_filesystem,
        sort=sort,
        entries=True,
    )
    sys.audit("rwalk.awalk_entries", top, topdown, onerror, followlinks)
    return _walk_with_options_on_threads(
        _walk_with_options(root, topdown, _collect_error, followlinks, options), onerror, executor
    )


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor or None, not {type(executor).__name__}"
        )


def _check_thread_executor(executor: Executor | None) -> None:
    if isinstance(executor, ProcessPoolExecutor):
        raise ValueError(
            "the options beyond os.walk (and awalk_entries) need an executor of threads: "
            "the walk's state cannot move to another process"
        )


def _collect_error(error: OSError) -> None:
    """The onerror of a walk with options run on threads: keep the error for the loop.

    Each step runs inside :func:`_collecting`, which points this thread's collector at
    the list of the walk being advanced; the loop reports the errors, in order, before
    the tuple that followed them (and runs the caller's ``onerror`` there).
    """
    _collector.errors.append(error)


_END = object()


async def _walk_with_options_on_threads(
    walk: Any, onerror: OnError | None, executor: Executor | None
) -> AsyncGenerator[Any, None]:
    """Advance a synchronous walk with options one step per hop to a thread."""
    errors: list[OSError] = []
    loop = asyncio.get_running_loop()
    pool = executor if executor is not None else _default_executor()
    in_flight: asyncio.Future[Any] | None = None
    try:
        while True:
            in_flight = _call_on(loop, pool, _next_collecting, walk, errors)
            step = await in_flight
            in_flight = None
            reported, errors[:] = list(errors), []
            for error in reported:
                await _report(onerror, error)
            if step is _END:
                return
            yield step
    finally:
        if in_flight is not None and not in_flight.done():
            # A step is running on a thread: close the walk when it is done there.
            in_flight.add_done_callback(lambda _: walk.close())
        else:
            walk.close()


def _next_collecting(walk: Any, errors: list[OSError]) -> Any:
    with _collecting(errors):
        return next(walk, _END)


_collector = threading.local()


@contextlib.contextmanager
def _collecting(errors: list[OSError]) -> Any:
    previous = getattr(_collector, "errors", None)
    _collector.errors = errors
    try:
        yield
    finally:
        _collector.errors = previous


def _call_on(
    loop: asyncio.AbstractEventLoop, pool: Executor | _ScanThreads, function: Any, *args: Any
) -> asyncio.Future[Any]:
    """``function(*args)`` on ``pool``, as a future of the running loop."""
    if not isinstance(pool, _ScanThreads):
        return asyncio.wrap_future(pool.submit(function, *args), loop=loop)
    future: asyncio.Future[Any] = loop.create_future()

    def settle(outcome: Any, failed: bool) -> None:
        if future.done():
            return
        if failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def task() -> None:
        try:
            outcome = function(*args)
        except BaseException as error:  # handed to the loop, raised there
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, error, True)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, outcome, False)

    pool.run(task)
    return future


def _check_count(name: str, value: object, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, not {value}")


async def _report(onerror: OnError | None, error: OSError) -> None:
    if onerror is not None:
        outcome = onerror(error)
        if inspect.isawaitable(outcome):
            await outcome


def _start_scheduler(
    executor: Executor | None, followlinks: bool, concurrency: int, read_ahead: int
) -> _Scheduler[AnyStr]:
    # Called from inside the generators, at the first __anext__: only then is the
    # event loop known (awalk() itself may be called outside any loop).
    return _Scheduler(
        asyncio.get_running_loop(),
        executor if executor is not None else _default_executor(),
        followlinks,
        concurrency,
        read_ahead,
    )


async def _walk_top_down(
    top: AnyStr,
    *,
    onerror: OnError | None,
    followlinks: bool,
    executor: Executor | None,
    concurrency: int,
    read_ahead: int,
) -> AsyncGenerator[WalkTuple[AnyStr], None]:
    """Parent before children, following the caller's edits to ``dirnames``."""
    scheduler: _Scheduler[AnyStr] = _start_scheduler(executor, followlinks, concurrency, read_ahead)
    try:
        # The nodes still to visit; the last is next.  An explicit stack, as in
        # CPython 3.13's os.walk, so that depth costs nothing.
        pending = [_Directory(top)]
        while pending:
            node = pending.pop()
            result = scheduler.take(node) or await scheduler.listing(node)
            if scheduler.owes_the_loop_a_turn():
                await asyncio.sleep(0)
            if not isinstance(result, tuple):
                if isinstance(result, _ScanCrash):
                    raise result.exception
                await _report(onerror, result)
                continue
            dirnames, filenames, _ = result
            path = node.path
            yield path, dirnames, filenames
            # The caller has had its chance to prune or reorder dirnames.
            if dirnames:
                paths = await scheduler.subdirectories_to_enter(path, dirnames)
                children = scheduler.adopt(node, paths)
                children.reverse()
                pending += children
            elif node.children:
                scheduler.adopt(node, [])  # the caller pruned every name
    finally:
        scheduler.close()


async def _walk_bottom_up(
    top: AnyStr,
    *,
    onerror: OnError | None,
    followlinks: bool,
    executor: Executor | None,
    concurrency: int,
    read_ahead: int,
) -> AsyncGenerator[WalkTuple[AnyStr], None]:
    """Children before parent.  Errors are reported when a directory is reached in
    scanning order, interleaved with the yields, exactly as in os.walk."""
    scheduler: _Scheduler[AnyStr] = _start_scheduler(executor, followlinks, concurrency, read_ahead)
    try:
        # Nodes to scan, and finished tuples waiting for their subtrees to be walked.
        pending: list[_Directory[AnyStr] | WalkTuple[AnyStr]] = [_Directory(top)]
        while pending:
            item = pending.pop()
            if type(item) is tuple:
                yield item
                continue
            assert isinstance(item, _Directory)
            result = scheduler.take(item) or await scheduler.listing(item)
            if scheduler.owes_the_loop_a_turn():
                await asyncio.sleep(0)
            if not isinstance(result, tuple):
                if isinstance(result, _ScanCrash):
                    raise result.exception
                await _report(onerror, result)
                continue
            dirnames, filenames, _ = result
            pending.append((item.path, dirnames, filenames))
            children: list[_Directory[AnyStr]] = scheduler.children_of(item)
            children.reverse()
            pending += children
    finally:
        scheduler.close()
