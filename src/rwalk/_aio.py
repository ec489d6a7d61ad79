"""awalk: the asyncio walk.  Scheduling scans on an executor, order, cancellation.

Two halves meet in a tree of :class:`_Directory` nodes:

* **The walk** runs on the event loop's thread.  It is ``rwalk.walk``'s loop written
  over an explicit stack of nodes (so, like ``walk``, it has no depth limit): it takes
  each directory's listing in ``os.walk``'s order, yields the tuple, calls ``onerror``,
  and after a top-down yield reads the caller's edited ``dirnames``.  It never touches
  the file system itself.

* **The scans** run on executor threads, as *jobs* that serve themselves: a job takes
  the directory the walk waits for, or else the earliest unscanned one in walk order,
  lists it through :func:`rwalk._scan.scan_directory`, attaches the listing and the
  new (unscanned) child nodes, and takes the next, until there is nothing left to take
  or no room left in the read-ahead.  The loop never hands out work.  How many jobs
  run at once adapts to the ratio of wall time to CPU time the jobs measure: on a
  warm local disk (listing at CPU speed) one job at a time scans a depth-first batch
  while the walk waits, and the two take turns (on two cores, a scanner running
  beside the walk only made both wait for the GIL); when listing waits on I/O (a
  network file system), up to ``concurrency`` jobs share the frontier and the walk
  consumes listings as they come in.

Scans are speculative: a directory is scanned before the caller has seen its parent.
When the caller prunes a name from ``dirnames``, the node under that name and
everything below it is discarded: its listings are dropped unseen and its errors are
never reported.  The number of directories scanned ahead of the caller (scanned or
being scanned) never exceeds ``read_ahead``, whatever the size of the tree and however
slow the caller.

``docs/design.md`` (the awalk section) records the measurements behind these choices.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import heapq
import inspect
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any, AnyStr, Generic, TypeAlias

from ._options import WalkOptions, check_walk_arguments, make_options
from ._scan import (
    DirectoryId,
    Listing,
    choose_directories,
    directory_id,
    scan_directory,
    subdirectories_to_enter,
    subdirectories_to_enter_listed,
)
from ._walk import (
    EntryTuple,
    OnError,
    OptionsListing,
    WalkTuple,
    enters_below,
    paths_after_yield,
    scan_with_options,
)

__all__ = ("DEFAULT_CONCURRENCY", "DEFAULT_READ_AHEAD", "DEFAULT_THREADS", "awalk")

DEFAULT_THREADS = 32
"""Threads in rwalk's shared scanning pool (used when no ``executor`` is given).

Listing is I/O-bound on network file systems, where the event loop's default executor
(``min(32, cores + 4)`` = 6 threads on a 2-core machine) would hide a round trip per
directory only 6-fold.  The pool is shared by every walk of the process (each walk runs
at most ``concurrency`` jobs on it).  At most one file descriptor per thread is open at
any moment.
"""

DEFAULT_CONCURRENCY = 16
"""Most scan jobs one walk keeps in flight at once (the adaptive limit's ceiling).

16 jobs hide a 1 ms round trip per directory 13-fold on a 2-core machine; 24 or 32
were slower there, every job then fighting the others (and the walk) for the GIL.
"""

DEFAULT_READ_AHEAD = 1024
"""Most directories one walk holds scanned (or is scanning) ahead of its caller."""

# A job's budget while it is the walk's only scanner (a warm local disk): it stops after
# this much wall time or this many directories, so that scanner and walk take turns in
# batches (see _Scheduler).  Long enough that starting a job is a few percent of it.
_JOB_SECONDS = 0.004
_JOB_MAX_DIRECTORIES = 1024
# A directory slower than this is a sign of I/O latency (a warm local one lists in
# 10-50 us, a network round trip takes 0.5 ms or more): the job measures its CPU time
# at once, so that parallel scanners start after the first slow directory, not later.
_SLOW_DIRECTORY_SECONDS = 0.0005
# How often a running job measures its wall and CPU time to adapt the parallel limit.
_EPOCH_SECONDS = 0.004
# Speculative jobs running beside the walk when listing is CPU-bound: none.  A scanner
# running beside the walk only fights the loop thread for the GIL (on 2 cores both
# waited); a job starts when the walk needs a directory.
_MIN_PARALLEL_JOBS = 0
# From this parallel limit on, jobs share one frontier and report each directory at
# once; below it, the one job scans depth-first on its own and reports in a batch.
_SHARED_FROM = 2
# A job whose wall time is this many times its thread's CPU time waited on I/O: the
# limit on parallel jobs doubles.  Below _CPU_BOUND_RATIO it halves (down to 0).
_IO_BOUND_RATIO = 4.0
_CPU_BOUND_RATIO = 2.0
# But while jobs share the frontier, jobs waiting for the GIL raise that ratio too
# (with p jobs it is about p from contention alone).  So there the limit grows only
# while most listings waited, and halves while most did not: a listing waited when its
# wall time was at least twice its thread's CPU time plus _LISTING_WAIT_FLOOR.  Judged
# over the listings of all jobs since the last judgement, once there are at least
# _WINDOW_DIRECTORIES (one job's epoch may hold a single listing that waited 20 ms for
# the GIL).  Measured at a forced limit of 2-16
# jobs: on the warm 111k-entry tree the median listing took 8-31 us, with no wait (the
# GIL delayed a minority); on the latency tree every listing waited its round trip
# (design.md, "Two regimes").
_LISTING_WAIT_FLOOR = 0.00002
_WINDOW_DIRECTORIES = 16
# The longest the walk runs on the loop without letting other tasks in.
_TURN_SECONDS = 0.002
# How long the loop thread waits in place for a link check before awaiting it.
_CHECK_WAIT_SECONDS = 0.0002
# A wait in place that gives way (sched_yield) to the checker on the loop's CPU and
# gets the answer this much later than the check itself explains found that CPU shared
# with another busy thread (another program's, or one of this program's), which ran
# for a time slice (1.5 ms or more here) when the loop gave way.  The loop then waits
# for checks on that CPU by sleeping on the answer instead, for _CONTENDED_SECONDS.
# Measured on the warm tree beside a busy process on each CPU: top-down walks 1.88x
# os.walk giving way, 0.74x sleeping (design.md, "Link checks when the CPU is shared").
# With nothing else running, the hand-off took 6-9 us (median), at most 72-131 us in a
# walk: 0.1 ms caught such hiccups about once a walk, so the threshold is 0.5 ms.
_CONTENDED_SPIN_SECONDS = 0.0005
_CONTENDED_SECONDS = 0.5
# The post-yield link check lists the directory again instead of one lstat per name
# (subdirectories_to_enter_listed) while directories list at CPU speed, for at least
# this many names making up at least 1/_LISTED_CHECK_ENTRIES_PER_NAME of its entries.
# Measured (one thread, warm, us with lstats -> by listing): 10 names of 19 entries
# 23.5 -> 19.5, 20 of 40 56 -> 34, 5 of 10 11.3 -> 11.7 (even); 10 of 40 even; 5 of 20
# 15 -> 21 and 10 of 60 27 -> 37 (slower).  On the warm 111k-entry tree's checking
# thread the ten lstats took 39 us of a 58 us check.
_LISTED_CHECK_NAMES = 4
_LISTED_CHECK_ENTRIES_PER_NAME = 2
# Most nodes a job puts on the shared frontier at a time (two chunks in the critical
# section where jobs begin to share: the children just listed, and the job's own
# stack); the rest it queues a chunk at a time, taking the lock for each.  A directory with 100,000
# subdirectories otherwise held the lock (which the loop takes after each yield) for
# 140-400 ms while the job queued them all.
_QUEUE_CHUNK = 256
# How long the loop thread waits in place for a listing while jobs share the frontier,
# before awaiting it through the event loop.  Measured on the latency tree (interleaved
# with os.walk rounds): 0.5 ms 163-173 ms, 1 ms 197-213 ms, no in-place wait 205-239 ms.
_LISTING_WAIT_SECONDS = 0.0005

# A node's life: waiting in the shared frontier (_QUEUED) or on one job's own stack
# (_HELD); being scanned; scanned (its result waits for the walk); taken by the walk.
_QUEUED, _HELD, _SCANNING, _SCANNED, _TAKEN = range(5)


class _ScanCrash:
    """A scan that raised something other than ``OSError`` (a bug, a patched scandir).

    Carried back like a listing, so that it is raised only if and when the walk
    reaches the directory, exactly where ``rwalk.walk`` would have raised it.
    """

    __slots__ = ("exception",)

    def __init__(self, exception: Exception) -> None:
        self.exception = exception


_ScanResult: TypeAlias = Listing[AnyStr] | OptionsListing[AnyStr] | OSError | _ScanCrash


def _run_check(check: Callable[..., Any], arguments: tuple[Any, ...]) -> Any:
    """On a worker: a post-yield check (the bpo-23605 link check, and for a walk with
    options the choice of directories to enter); what it raises is carried back."""
    try:
        return check(*arguments)
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
    it: the checker posts it through the loop.
    """

    __slots__ = (
        "_arguments",
        "_check",
        "_done",
        "_guard",
        "_late",
        "_scheduler",
        "_serial",
        "_taken",
        "answer",
        "contended",
        "took",
    )

    def __init__(
        self,
        scheduler: _Scheduler[AnyStr],
        serial: int,
        check: Callable[..., Any],
        arguments: tuple[Any, ...],
    ) -> None:
        self._scheduler: _Scheduler[AnyStr] = scheduler
        self._serial = serial
        self._check = check
        self._arguments = arguments
        self.answer: Any = None
        # How long the check itself ran (set with answer), and whether a wait that
        # gave way found the loop's CPU busy with another thread (see wait).
        self.took = 0.0
        self.contended = False
        self._late = False
        self._taken = False
        self._guard = threading.Lock()
        self._done = threading.Lock()
        self._done.acquire()

    def run(self) -> None:
        """On a checker thread, or a scan job: whichever comes first runs the check."""
        with self._guard:
            if self._taken or self._scheduler._closed:
                return
            self._taken = True
        started = time.perf_counter()
        answer = _run_check(self._check, self._arguments)
        took = time.perf_counter() - started
        with self._guard:
            self.answer = answer
            self.took = took
            late = self._late
        self._done.release()
        if late:
            self._scheduler.post_check(self._serial, answer)

    def wait(self, seconds: float, spin: bool = False) -> Any:
        """On the loop: the answer if it comes within ``seconds``, else None (posted later).

        With ``spin`` (the check runs on a thread pinned to this thread's CPU), the loop
        does not sleep on the lock but lets the checker have the CPU (``sched_yield``)
        until the answer is in: a thread that sleeps is woken onto whichever CPU is
        idle, which costs waking that CPU and takes the loop away from the CPU its
        checker is pinned to.  Not for a checker that may be on another CPU: a loop
        taking the GIL back after every yield would only compete with it.  Giving way
        pays only while nothing else wants that CPU: any other busy thread there gets
        a whole time slice each time.  So ``contended`` is set when the
        answer took ``_CONTENDED_SPIN_SECONDS`` longer than the check itself, and the
        caller then stops giving way for a while.  A wait that gives up judges nothing:
        the check may be a long one (a large directory), whose own time is not known yet.
        """
        clock = time.perf_counter
        began = clock()
        if spin:
            deadline = began + seconds
            give_way = os.sched_yield
            done = self._done
            while not done.acquire(False):
                give_way()
                if clock() > deadline:
                    break
            else:
                # The answer (and took, set before _done was released) is in.
                if clock() - began - self.took > _CONTENDED_SPIN_SECONDS:
                    self.contended = True
                return self.answer
        elif self._done.acquire(True, seconds):
            return self.answer
        # Late (or just now: then the answer is in, and is returned).
        with self._guard:
            if self.answer is None:
                self._late = True
            elif spin and clock() - began - self.took > _CONTENDED_SPIN_SECONDS:
                # In by the time the wait gave up, as after another thread's time slice.
                self.contended = True
            return self.answer


class _Directory(Generic[AnyStr]):
    """One directory of the walk: its listing once scanned, its subdirectories' nodes."""

    __slots__ = (
        "children",
        "depth",
        "discarded",
        "identity",
        "index",
        "parent",
        "path",
        "result",
        "state",
        "ticket",
    )

    def __init__(
        self, path: AnyStr, parent: _Directory[AnyStr] | None = None, index: int = 0
    ) -> None:
        self.path: AnyStr = path
        # Its place among its parent's subdirectories, from which its key is made
        # each time it goes on the shared frontier (see _key_of).
        self.parent: _Directory[AnyStr] | None = parent
        self.index = index
        self.depth: int = parent.depth + 1 if parent is not None else 0
        # (st_dev, st_ino) as the walk with options entered it (detect_loops).
        self.identity: DirectoryId | None = None
        # The serial of its live entry on the shared frontier (older entries are stale).
        self.ticket = 0
        # Made by a job for its own stack (or by the walk, for a root it awaits);
        # _queue makes it _QUEUED.
        self.state = _HELD
        self.result: _ScanResult[AnyStr] | None = None
        # The nodes of enter_paths, keyed by path, once scanned.
        self.children: dict[AnyStr, _Directory[AnyStr]] | None = None
        # Pruned by the caller (or below a pruned directory): never shown.
        self.discarded = False


def _key_of(node: _Directory[AnyStr]) -> tuple[int, ...]:
    """``node``'s place in the walk's depth-first order, as the scans found it.

    The positions of its ancestors and itself among their siblings: tuples compare in
    exactly the walk's order, so the shared frontier is a heap on them.  Made afresh
    (O(depth), without recursion) each time a node goes on the shared frontier, and
    kept only in its entry there: cached on the nodes, the keys of a deep chain's
    ancestors (alive through their children's parent links) took O(depth) each, 20 MB
    on a 2,000-level chain against 0.8 MB for ``rwalk.walk`` (found in review).
    """
    positions = []
    current = node
    while current.parent is not None:
        positions.append(current.index)
        current = current.parent
    positions.reverse()
    return tuple(positions)


class _ExecutorFailure(RuntimeError):
    """The executor stopped running the walk's jobs (shut down, broken, cancelled)."""


_REFUSED = "rwalk.awalk: the executor refused new work"
_CANCELLED = "rwalk.awalk: the executor cancelled a scan job (was it shut down?)"
_OTHER_LOOP = (
    "rwalk.awalk: this walk was started on another event loop, which its scan jobs "
    "report to: an async iterator cannot move between loops (start a new walk)"
)
_FORKED = (
    "rwalk.awalk: this walk was started before os.fork(), and its scan threads stayed "
    "in the parent: it cannot go on in the child (start a new walk there)"
)


class _Scheduler(Generic[AnyStr]):
    """Runs scan jobs on the executor and hands their listings to the walk.

    The walk (on the loop's thread) and the jobs (on worker threads) share the tree of
    nodes, the *frontier* (a heap of the unscanned nodes, earliest in walk order
    first) and a few counters, all guarded by one lock.  Jobs serve themselves: a job
    takes the earliest node the walk waits for or will need, scans it, attaches the
    listing and the new child nodes, and takes the next, until there is nothing to take
    or no room left in the read-ahead.  The loop is woken only when the directory it
    waits for is in.  So the loop never hands out work, and a slow file system keeps
    every job busy however many finish at once.

    Two regimes, chosen by the parallel limit, which adapts to how long the jobs wait
    on I/O (wall time against their thread's CPU time):

    * **One job** (listing at CPU speed: a local, cached disk).  No job runs while the
      walk has listings to consume; when it needs one, a job starts, scans depth-first
      on its own stack for up to ``_JOB_SECONDS``, and wakes the walk once at the end.
      Scanner and walk take turns instead of fighting for the GIL.
    * **Shared** (listing waits: a network file system, a cold disk).  Up to the limit,
      jobs take nodes from the shared frontier, put the children they find back on it,
      start more jobs while there is work and room, and wake the walk as soon as the
      directory it waits for is in.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: Executor | _ScanThreads,
        followlinks: bool,
        concurrency: int,
        read_ahead: int,
        *,
        options: WalkOptions | None = None,
    ) -> None:
        self._loop = loop
        # submit() on a user's executor is called from this thread only (see _start_jobs).
        self._loop_thread = threading.get_ident()
        self._executor = executor
        self._followlinks = followlinks
        # A walk with options lists each directory as rwalk.walk's walk with options
        # does (entries kept, sorted, no enter paths below max_depth).
        self._options = options
        # The device of top, once read (one_filesystem).
        self.top_device: int | None = None
        self._concurrency = concurrency
        self._read_ahead = read_ahead
        # Below a share of the read-ahead worth a job, the walk waits for more room
        # rather than start a job per directory it takes (TCP's silly-window avoidance).
        self._smallest_room = max(1, min(read_ahead, _JOB_MAX_DIRECTORIES) // 8)
        self._lock = threading.Lock()
        # -- guarded by _lock -------------------------------------------------------
        # (key, serial, node): the serial keeps two equal keys (a name the caller
        # added twice) from ever comparing nodes.  Entries whose node was taken by a
        # job, or discarded, are skipped when popped.
        self._frontier: list[tuple[tuple[int, ...], int, _Directory[AnyStr]]] = []
        self._serial = 0
        # Nodes being scanned, or scanned and not yet taken, are ``_claimed - _released``:
        # never above read_ahead, except for the directory the walk waits for.  Jobs
        # count claims (and scans dropped as pruned) under the lock; the loop alone
        # writes _released (taken, or pruned after their scan), so that taking a
        # listing needs no lock.  A job reading a stale _released only claims less.
        self._claimed = 0
        self._released = 0
        # Jobs started and not finished (queued on the executor or running).
        self._jobs = 0
        self._parallel = min(concurrency, _MIN_PARALLEL_JOBS)
        self._wait_ratio = 1.0
        # The jobs' smoothed wall/CPU ratio (_wait_ratio) is CPU-bound; False until
        # they have measured once (a walk whose jobs stop early on a small read-ahead
        # never does).
        self._cpu_bound = False
        # Directories listed (by any job, while jobs share the frontier) since the limit
        # was last judged by their times, and how many of them waited (see _adapt).
        self._window_listed = 0
        self._window_waited = 0
        # The node the walk waits for: jobs take it first, and wake the walk for it.
        self._awaited: _Directory[AnyStr] | None = None
        # A link check for the next job to run (only while jobs share the frontier).
        self._pending_check: _CheckHandoff[AnyStr] | None = None
        # Held by the walk while it waits in place for the awaited listing; the job
        # that publishes it releases it instead of waking the loop.
        self._gate: threading.Lock | None = None
        self._closed = False
        self._failure: BaseException | None = None
        # With a user's executor: the futures of jobs not finished, to cancel on close.
        self._futures: set[Future[Any]] = set()
        # -- the loop's own --------------------------------------------------------
        self._wakeup: asyncio.Future[None] | None = None
        self._check_result: Any = None
        self._check_serial = 0
        self._turn_taken = time.perf_counter()
        _live_schedulers.add(self)

    # -- the walk's side (on the loop's thread) ------------------------------------

    def take(self, node: _Directory[AnyStr]) -> _ScanResult[AnyStr] | None:
        """The scan result of ``node`` if it is in, else None (then await :meth:`listing`).

        The walk's fast path: most directories are scanned before the walk reaches
        them, and a plain call costs less than creating a coroutine for each.
        """
        result = node.result
        if result is None or self._failure is not None:
            return None
        # Jobs no longer touch a scanned node: no lock needed to take it.
        node.result = None
        node.state = _TAKEN
        self._released += 1
        if self._parallel:
            with self._lock:
                starting = self._jobs_to_start()
            if starting:
                self._start_jobs(starting)
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
        """The scan result of ``node``, scanning it now if no job is about to."""
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError(_OTHER_LOOP)
        while True:
            if self._failure is not None:
                raise self._failure
            result = self.take(node)
            if result is not None:
                return result
            with self._lock:
                if node.result is not None or self._failure is not None:
                    continue
                self._awaited = node
                starting = 0
                if node.state in (_QUEUED, _HELD) and self._jobs < max(
                    1, self._concurrency if self._parallel >= _SHARED_FROM else 1
                ):
                    # Needed now: a job whatever the parallel limit (running jobs may
                    # all be inside slow directories).
                    self._jobs += 1
                    starting = 1
                gate = None
                if self._parallel >= _SHARED_FROM:
                    gate = self._gate = threading.Lock()
                    gate.acquire()
                else:
                    wakeup = self._wakeup = self._loop.create_future()
                # In turns the walk waits for this job and cannot overlap it; once
                # the jobs have measured that they list at CPU speed, it goes to the
                # thread pinned to the loop's CPU if that one is free (_start_jobs).
                on_the_loops_cpu = gate is None and self._cpu_bound
            if starting:
                self._start_jobs(starting, on_the_loops_cpu)
            if gate is not None:
                # Jobs share the frontier and wake the walk at once: the listing is
                # usually a fraction of a millisecond away, and a lock handed over
                # costs less than a wake-up through the event loop.
                arrived = gate.acquire(True, _LISTING_WAIT_SECONDS)
                with self._lock:
                    if self._gate is gate:
                        self._gate = None
                        arrived = False
                    else:
                        arrived = True
                    if not arrived:
                        wakeup = self._wakeup = self._loop.create_future()
                if arrived:
                    self._awaited = None
                    continue
            try:
                await wakeup
            finally:
                self._wakeup = None
                self._awaited = None
                self._turn_taken = time.perf_counter()

    async def subdirectories_to_enter(
        self, top: AnyStr, dirnames: list[AnyStr], entries: int
    ) -> list[AnyStr]:
        """Run the post-yield link check on a worker, as ``os.walk`` runs it after a yield.

        ``entries``: how many entries ``top`` had when it was scanned.
        """
        if self._followlinks:
            # Only joins names: no file-system call, no need for a thread.
            return subdirectories_to_enter(top, dirnames, True)
        # A copy: the names as they are now, after the caller's edits (as os.walk
        # reads them), whatever the caller does with its list later.
        names = list(dirnames)
        count = len(names)
        if (
            (self._wait_ratio < _CPU_BOUND_RATIO or self._cpu_bound)
            and count >= _LISTED_CHECK_NAMES
            and entries <= _LISTED_CHECK_ENTRIES_PER_NAME * count
        ):
            # Directories list at CPU speed: listing top again costs less than one
            # lstat per name, with the same answers (see subdirectories_to_enter_listed).
            paths: list[AnyStr] = await self.after_yield(subdirectories_to_enter_listed, top, names)
        else:
            paths = await self.after_yield(subdirectories_to_enter, top, names, False)
        return paths

    async def after_yield(self, check: Callable[..., Any], *arguments: Any) -> Any:
        """``check(*arguments)`` on a worker, now, while the walk waits (a list).

        The post-yield link check, and for a walk with options the choice of the
        directories to enter: one round trip per directory with subdirectories, on the
        walk's critical path, so it takes the quickest way there and back.
        """
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError(_OTHER_LOOP)
        self._check_serial += 1
        serial = self._check_serial
        if isinstance(self._executor, _ScanThreads):
            handoff = _CheckHandoff(self, serial, check, arguments)
            with self._lock:
                # While jobs share the frontier, one of them runs the check between two
                # directories: it is awake and about to hold the GIL anyway, where a
                # checker thread would first have to win the GIL from all of them.
                by_a_job = self._parallel >= _SHARED_FROM and self._jobs > 0
                if by_a_job:
                    self._pending_check = handoff
            spinning_on: _ScanThreads | None = None
            if not by_a_job:
                # To the checker on the loop's own CPU if it is free: the hand-off
                # there and back is then two context switches on one CPU, where a
                # thread on another CPU must first be woken (see _CheckHandoff.wait).
                checker = _checker_on_this_cpu()
                if checker is None or not checker.try_run(handoff.run):
                    _default_checkers().run(handoff.run)
                elif checker.pinned and time.perf_counter() >= checker.spin_after:
                    spinning_on = checker
            answer = handoff.wait(_CHECK_WAIT_SECONDS, spinning_on is not None)
            if spinning_on is not None and handoff.contended:
                # Another thread keeps that CPU busy: sleep on the answers for a while.
                spinning_on.spin_after = time.perf_counter() + _CONTENDED_SECONDS
            if answer is not None:
                if isinstance(answer, _ScanCrash):
                    raise answer.exception
                return answer
            if by_a_job:
                # Every job may be inside a slow directory (or queued behind other
                # walks' jobs): a checker thread may take it first (it runs once).
                _default_checkers().run(handoff.run)
            # Slow (a network file system, a busy machine): the loop goes on with
            # other work; the checker posts its answer.
        else:
            self._submit_check(serial, check, arguments)
        try:
            while self._check_result is None:
                if self._failure is not None:
                    raise self._failure
                wakeup = self._wakeup = self._loop.create_future()
                try:
                    await wakeup
                finally:
                    self._wakeup = None
                    self._turn_taken = time.perf_counter()
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
        if len(speculative) == len(paths) and list(speculative) == paths:
            # The caller kept every name, in order (the usual case): a copy at C speed,
            # where the loop below took ~40 ms on the loop for 100,000 subdirectories.
            return list(speculative.values())
        adopted = []
        fresh = []
        reordered = False
        for index, path in enumerate(paths):
            child = speculative.pop(path, None)
            if child is None:
                child = _Directory(path, node, index)
                fresh.append(child)
            elif child.index != index:
                reordered = True
            adopted.append(child)
        if speculative or fresh or reordered:
            with self._lock:
                for pruned in speculative.values():
                    self._discard(pruned)
                if reordered:
                    self._reorder(adopted)
                for child in fresh:
                    self._queue(child)
                starting = self._jobs_to_start()
            if starting:
                self._start_jobs(starting)
        return adopted

    def children_of(self, node: _Directory[AnyStr]) -> list[_Directory[AnyStr]]:
        """A bottom-up walk enters every subdirectory it scanned (no pruning)."""
        children = node.children
        node.children = None
        return list(children.values()) if children else []

    def forked(self) -> None:
        """In a forked child: the walk ends with a clear error at its next step.

        Its jobs, and the threads that would run new ones, stayed in the parent, so a
        walk going on here would wait for ever (found in session 9's audit).  The lock
        may have been held by one of those threads at the fork: a fresh one, for close().
        """
        self._lock = threading.Lock()
        self._gate = None
        self._futures = set()
        if self._failure is None:
            self._failure = _ExecutorFailure(_FORKED)
        # A walk waiting for a listing (or a check) at the fork: no job will wake it
        # here.  The child has this thread only, so the future may be touched.
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def close(self) -> None:
        """Stop for good: no job takes another directory, queued jobs are cancelled.

        A job already scanning finishes the directory it is in (closing it) and its
        result is ignored; nothing new is started.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._frontier.clear()
            self._pending_check = None
            futures = list(self._futures)
            self._futures.clear()
        # rwalk's own threads run a closed walk's queued jobs as no-ops.
        for future in futures:
            future.cancel()
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.cancel()

    # -- the jobs (on worker threads) ----------------------------------------------

    def _run_job(self, on_the_loops_cpu: bool = False) -> None:
        """A job: take nodes and scan them until there is nothing (or no room) left.

        ``on_the_loops_cpu``: started on the thread pinned to the loop's CPU (in turns).
        """
        clock = time.perf_counter
        thread_time = time.thread_time
        followlinks = self._followlinks
        options = self._options
        lock = self._lock
        # This job's own depth-first stack (last = next) while it is the only one.
        own: list[_Directory[AnyStr]] = []
        # Nodes to put on the shared frontier past the _QUEUE_CHUNK of a critical
        # section, earliest in walk order last.
        overflow: list[_Directory[AnyStr]] = []
        started = epoch_started = clock()
        epoch_cpu = thread_time()
        scanned = 0
        node: _Directory[AnyStr] | None = None
        result: _ScanResult[AnyStr] | None = None
        children: dict[AnyStr, _Directory[AnyStr]] | None = None
        now = started
        slow = False
        # Whether the last listing waited, if timed (only while jobs share the frontier).
        waited: bool | None = None
        ended = False
        try:
            while True:
                # One critical section per directory: attach the last one, take a
                # pending link check, take the next directory.
                wake = False
                with lock:
                    if node is not None:
                        assert result is not None
                        if waited is not None:
                            self._window_listed += 1
                            self._window_waited += waited
                        if slow or now - epoch_started >= _EPOCH_SECONDS:
                            cpu = thread_time()
                            listed = waited_ones = 0  # not judged by the listings' times
                            if (
                                self._parallel >= _SHARED_FROM
                                and self._window_listed >= _WINDOW_DIRECTORIES
                            ):
                                listed, waited_ones = self._window_listed, self._window_waited
                                self._window_listed = self._window_waited = 0
                            self._adapt(now - epoch_started, cpu - epoch_cpu, listed, waited_ones)
                            epoch_started, epoch_cpu = now, cpu
                        wake = self._publish(
                            node, result, children, own=own, overflow=overflow, slow=slow
                        )
                        awaited = self._awaited
                        if (
                            awaited is not None
                            and awaited.result is not None
                            and self._parallel >= _SHARED_FROM
                        ):
                            # Published by a lone job (which wakes the walk only at
                            # the end of its batch) before jobs began to share: no end
                            # of batch will come now.
                            self._awaited = None
                            wake = True
                    if wake:
                        self._wake_walk()
                    starting = self._jobs_to_start() if self._parallel else 0
                    node = self._claim(
                        own,
                        overflow,
                        started=started,
                        now=now,
                        scanned=scanned,
                        on_the_loops_cpu=on_the_loops_cpu,
                    )
                    if node is None:
                        self._end_job(own, overflow)
                        ended = True
                    check, self._pending_check = self._pending_check, None
                if check is not None:
                    check.run()
                if starting:
                    self._start_jobs(starting)
                if overflow:
                    self._queue_overflow(overflow)
                if node is None:
                    return
                if self._closed:
                    # Closed since the claim (while this job ran a check, started jobs
                    # or queued nodes): list nothing more.  What is left is the moment
                    # between this test and the scandir() call.
                    with lock:
                        self._jobs -= 1
                        ended = True
                    return
                timed = self._parallel >= _SHARED_FROM
                scan_started = clock()
                scan_cpu = thread_time() if timed else 0.0
                try:
                    if options is None:
                        result = scan_directory(node.path, True, followlinks)
                    else:
                        result = scan_with_options(node.path, node.depth, followlinks, options)
                except Exception as exception:
                    result = _ScanCrash(exception)
                now = clock()
                waited = None
                if timed:
                    took = now - scan_started
                    waited = took >= 2 * (thread_time() - scan_cpu) + _LISTING_WAIT_FLOOR
                scanned += 1
                children = None
                if type(result) is tuple and result[2]:
                    children = {
                        path: _Directory(path, node, index) for index, path in enumerate(result[2])
                    }
                    if options is not None and options.needs_device_and_inode:
                        children = self._worth_listing(children, node, options)
                slow = now - scan_started >= _SLOW_DIRECTORY_SECONDS
        except BaseException as error:  # scans catch what they raise: this is a bug
            if not ended:
                with lock:
                    self._jobs -= 1
            self._fail_from_thread(_ExecutorFailure(f"rwalk.awalk: a scan job failed: {error!r}"))

    def _worth_listing(
        self,
        children: dict[AnyStr, _Directory[AnyStr]],
        parent: _Directory[AnyStr],
        options: WalkOptions,
    ) -> dict[AnyStr, _Directory[AnyStr]]:
        """On a worker: the children a walk with options could enter, to list ahead.

        ``one_filesystem`` and ``detect_loops`` promise not to enter a directory on
        another device, or one already on the path from top: listing it even
        speculatively could trigger an automount, hang on a dead network mount, or run
        around a cycle until ``read_ahead`` is spent.  The walk's own choice after the
        yield stays the authority (a directory skipped here is listed when the walk
        enters it).
        """
        ancestors = {}
        current: _Directory[AnyStr] | None = parent
        while current is not None:
            if current.identity is not None:
                ancestors[current.identity] = current.path
            current = current.parent
        chosen = choose_directories(
            list(children),
            ancestors,
            self.top_device,
            options.detect_loops,
            options.one_filesystem,
        )
        kept = {}
        for choice in chosen:
            if isinstance(choice, OSError):
                continue  # a loop: the walk reports it, nothing is listed
            path, identity = choice
            child = children[path]
            child.identity = identity
            kept[path] = child
        return kept

    def _claim(
        self,
        own: list[_Directory[AnyStr]],
        overflow: list[_Directory[AnyStr]],
        *,
        started: float,
        now: float,
        scanned: int,
        on_the_loops_cpu: bool,
    ) -> _Directory[AnyStr] | None:
        """Under the lock: the node this job scans next, or None (the job ends)."""
        if (
            self._closed
            or self._failure is not None
            # Listing began to wait: jobs now share the frontier and run beside the
            # walk, on the scan threads.  A job on the loop's CPU ends (what it held
            # goes back) and leaves that thread to link checks.
            or (on_the_loops_cpu and self._parallel >= _SHARED_FROM)
        ):
            return None
        awaited = self._awaited
        node: _Directory[AnyStr] | None
        if awaited is not None and awaited.state <= _HELD and not awaited.discarded:
            node = awaited  # whoever holds it, whatever the room and the budget
        else:
            if self._claimed - self._released >= self._read_ahead:
                return None
            if self._parallel < _SHARED_FROM:
                if (
                    scanned >= _JOB_MAX_DIRECTORIES
                    or now - started >= _JOB_SECONDS
                    or self._jobs > 1
                ):
                    return None
            elif self._jobs > self._parallel:
                return None
            node = None
            if own:
                if self._parallel >= _SHARED_FROM:
                    # Other jobs may now start: they take from the shared frontier.
                    self._give_back(own, overflow)
                else:
                    while own:
                        candidate = own.pop()
                        if candidate.state == _HELD and not candidate.discarded:
                            node = candidate
                            break
            if node is None:
                frontier = self._frontier
                while frontier:
                    _, ticket, candidate = heapq.heappop(frontier)
                    if (
                        candidate.ticket == ticket
                        and candidate.state == _QUEUED
                        and not candidate.discarded
                    ):
                        node = candidate
                        break
                if node is None:
                    return None
        node.state = _SCANNING
        self._claimed += 1
        return node

    def _publish(
        self,
        node: _Directory[AnyStr],
        result: _ScanResult[AnyStr],
        children: dict[AnyStr, _Directory[AnyStr]] | None,
        *,
        own: list[_Directory[AnyStr]],
        overflow: list[_Directory[AnyStr]],
        slow: bool,
    ) -> bool:
        """Under the lock: attach a scan; True if the walk waits for it now."""
        node.state = _SCANNED
        if node.discarded or self._closed:
            self._claimed -= 1
            return False
        if children:
            node.children = children
            if self._parallel >= _SHARED_FROM:
                # Made _HELD; the first ones in walk order are queued first.
                self._give_back(list(reversed(children.values())), overflow)
            else:
                own.extend(reversed(children.values()))  # made _HELD
        # Last: the loop reads result without the lock, then children.
        node.result = result
        if node is self._awaited and (slow or self._parallel >= _SHARED_FROM):
            # Waiting on I/O: the walk goes on with this while the jobs scan on.
            self._awaited = None
            return True
        return False

    def _end_job(self, own: list[_Directory[AnyStr]], overflow: list[_Directory[AnyStr]]) -> None:
        """Under the lock: the job ends; what it held goes back to the frontier (past
        the first _QUEUE_CHUNK nodes, through ``overflow``, before the job returns)."""
        self._jobs -= 1
        self._give_back(own, overflow)
        awaited = self._awaited
        if awaited is not None and awaited.state != _SCANNING:
            # A batch is in, or the walk must start a job for what it waits for.  (A
            # directory being scanned wakes the walk when it is in.)
            self._awaited = None
            self._wake_walk()

    def _give_back(self, own: list[_Directory[AnyStr]], overflow: list[_Directory[AnyStr]]) -> None:
        """Under the lock: queue the nodes of ``own`` (a stack: last = earliest) that
        are still held; past _QUEUE_CHUNK of them, the rest go to ``overflow``."""
        if len(own) > _QUEUE_CHUNK:
            overflow[:0] = own[:-_QUEUE_CHUNK]  # before what overflow holds: later
            del own[:-_QUEUE_CHUNK]
        self._queue_held(reversed(own))
        own.clear()

    def _queue_held(self, nodes: Iterable[_Directory[AnyStr]]) -> None:
        """Under the lock: put those of ``nodes`` that are still held (not taken by the
        walk meanwhile, nor pruned) on the shared frontier, in the order given."""
        for node in nodes:
            if node.state == _HELD and not node.discarded:
                self._queue(node)

    def _queue_overflow(self, overflow: list[_Directory[AnyStr]]) -> None:
        """On the job's thread: queue ``overflow`` a chunk per critical section, so
        that the loop (and the other jobs) wait for the lock no longer than a chunk."""
        while overflow:
            chunk = overflow[-_QUEUE_CHUNK:]
            del overflow[-_QUEUE_CHUNK:]
            with self._lock:
                if self._closed or self._failure is not None:
                    overflow.clear()
                    return
                self._queue_held(reversed(chunk))
                starting = self._jobs_to_start() if self._parallel else 0
            if starting:
                self._start_jobs(starting)
            # Let the loop in: without giving up the GIL here, the job took the lock
            # back before the loop could, chunk after chunk (100,000 nodes: gaps of
            # 60-105 ms in a 1 ms heartbeat, against 24-31 ms, the collections of the
            # nodes by the cyclic garbage collector, with it).
            time.sleep(0)

    def _queue(self, node: _Directory[AnyStr]) -> None:
        """Under the lock: put ``node`` on the shared frontier."""
        self._serial += 1
        node.state = _QUEUED
        node.ticket = self._serial
        heapq.heappush(self._frontier, (_key_of(node), self._serial, node))

    def _jobs_to_start(self) -> int:
        """Under the lock: how many speculative jobs to start now (counted as started)."""
        if (
            self._jobs >= self._parallel
            or not self._frontier
            or self._closed
            or self._failure is not None
            or self._read_ahead - (self._claimed - self._released) < self._smallest_room
        ):
            return 0
        starting = min(self._parallel - self._jobs, len(self._frontier))
        self._jobs += starting
        return starting

    def _adapt(self, wall_seconds: float, cpu_seconds: float, listed: int, waited: int) -> None:
        """Under the lock: size the parallel limit from how long a job waited.

        A job whose thread was busy the whole time (local, cached directories) gains
        nothing from company but GIL contention; a job that mostly waited (network
        latency, a cold disk) leaves room for ``wall / cpu`` jobs to wait side by side.
        But with ``p`` jobs sharing the GIL, each also waits for the others: ``wall /
        cpu`` is about ``p + 1`` from contention alone.  So the limit grows only on a
        ratio well above that (measured: growing on ``ratio + 1`` fed on itself and
        made the warm 111k-entry walk 2.8x slower), and shrinks when the ratio falls
        well below it.

        Even so, contention alone can hold the ratio up: one slow directory (3 ms) at
        the top of the warm tree took the limit to 16, where sixteen jobs waiting for
        the GIL kept the ratio near 10 and the walk 3.3x ``os.walk``.  What contention
        does not fake is the typical listing: of the last ``listed`` listings of all
        jobs (while they share the frontier), ``waited`` took well over their own CPU
        time.  With a round trip per directory (even 0.2 ms) every listing waits; on a
        warm disk most list at CPU speed, however many jobs wait for the GIL between
        listings.  So while jobs share, the limit grows only while most listings
        waited, and halves while most did not.  ``listed`` 0: not judged that way (in
        turns, where the one job's ratio is not inflated, or too few listings since the
        last judgement), the ratio alone counts: it may grow the limit only in turns.
        """
        # Smoothed: one job that waited 5 ms for the GIL (the switch interval) must not
        # look like a network file system.
        ratio = self._wait_ratio = 0.75 * self._wait_ratio + 0.25 * (
            wall_seconds / max(cpu_seconds, 1e-6)
        )
        # Listings at CPU speed: by the ratio, or by their own times (one slow directory
        # of 30 ms leaves a smoothed ratio above _CPU_BOUND_RATIO for some 20 epochs).
        judged = listed > 0
        waiting = judged and 2 * waited >= listed
        if judged and not waiting:
            # The ratio was the GIL's: forget it, or back in turns it would grow the
            # limit again at once (measured: the trapped walk went 16, 1, 10, 5, 2, 1).
            ratio = self._wait_ratio = min(ratio, 1.0)
        # Judged, the listings' times decide alone (most waited: not CPU-bound, even if
        # the ratio, smoothed over the jobs' epochs, says so; found in review).
        self._cpu_bound = not waiting if judged else ratio < _CPU_BOUND_RATIO
        parallel = was = self._parallel
        if ratio >= _IO_BOUND_RATIO and (waiting or (not judged and parallel < _SHARED_FROM)):
            # Waiting on I/O: double (from 0: straight to the ratio) up to the ceiling.
            parallel = max(2 * parallel, int(ratio))
        elif self._cpu_bound:
            parallel //= 2
        floor = min(self._concurrency, _MIN_PARALLEL_JOBS)
        self._parallel = parallel = max(floor, min(self._concurrency, parallel))
        if (was >= _SHARED_FROM) != (parallel >= _SHARED_FROM):
            # Into or out of sharing: the next judgement counts listings of the new
            # regime only (a listing timed while sharing may end after the change).
            self._window_listed = self._window_waited = 0

    def _reorder(self, adopted: list[_Directory[AnyStr]]) -> None:
        """Under the lock: the caller reordered ``dirnames``; the frontier follows.

        Each adopted node takes its place in the caller's order, and the nodes already
        on the shared frontier below them are queued again under their new keys (their
        old entries become stale), so that the read-ahead fills with what the walk will
        reach first, not with what the scans found first.  (Measured before: a caller
        sorting ``dirnames`` took a 1 ms-per-directory walk from 12.6x to 3.2x
        ``os.walk``.)
        """
        for position, child in enumerate(adopted):
            child.index = position
        if not self._frontier:
            return  # nothing is queued (a lone job keeps its own stack in its order)
        below = list(adopted)
        requeue = []
        while below:
            current = below.pop()
            if current.state == _QUEUED and not current.discarded:
                requeue.append(current)
            if current.children:
                below.extend(current.children.values())
        for current in requeue:
            self._queue(current)

    def _discard(self, node: _Directory[AnyStr]) -> None:
        """Under the lock: drop a pruned node and everything scanned below it, unseen."""
        doomed = [node]
        while doomed:
            current = doomed.pop()
            current.discarded = True
            if current.result is not None:
                current.result = None
                self._released += 1
            if current.children:
                doomed.extend(current.children.values())
                current.children = None

    # -- to the threads and back -----------------------------------------------------

    def _start_jobs(self, count: int, on_the_loops_cpu: bool = False) -> None:
        """Start ``count`` jobs, already counted in ``_jobs`` (from any thread).

        ``on_the_loops_cpu``: from the loop's thread, for a job the walk will wait for
        (in turns, listing at CPU speed): on rwalk's own threads, it goes to the thread
        pinned to the loop's CPU if that one is free.  Scanning where the loop runs
        keeps the listings, and the memory the loop has just freed, in one CPU's cache,
        where a scan thread elsewhere could make every turn's work cross between CPUs
        (design.md, "The turns' job on the loop's own CPU").
        """
        executor = self._executor
        if not isinstance(executor, _ScanThreads) and threading.get_ident() != self._loop_thread:
            # From a job: a user's executor may block in submit() while it is full (a
            # bounded queue), and a worker blocked there waits for a worker to finish,
            # so every worker could wait for the others (found in session 9's audit:
            # the walk hung).  The loop submits instead; the jobs it waits for never
            # wait for it.
            try:
                self._loop.call_soon_threadsafe(self._start_jobs, count)
            except RuntimeError:  # the loop is closed: nobody will walk on
                with self._lock:
                    self._jobs -= count
            return
        for started in range(count):
            try:
                if self._closed:
                    raise RuntimeError("the walk is closed")
                if isinstance(executor, _ScanThreads):
                    if on_the_loops_cpu:
                        checker = _checker_on_this_cpu()
                        if checker is not None and checker.try_run(partial(self._run_job, True)):
                            continue
                    executor.run(self._run_job)
                    continue
                future = executor.submit(self._run_job)
            except RuntimeError as error:
                # "cannot schedule new futures after shutdown", or the interpreter exits.
                with self._lock:
                    self._jobs -= count - started
                if not self._closed:
                    failure = _ExecutorFailure(f"{_REFUSED} ({error})")
                    failure.__cause__ = error
                    self._fail_from_thread(failure)
                return
            with self._lock:
                if not future.done():
                    self._futures.add(future)
            future.add_done_callback(self._job_done)

    def _job_done(self, future: Future[Any]) -> None:
        """On whatever thread finished (or cancelled) a job on a user's executor."""
        with self._lock:
            self._futures.discard(future)
            if self._closed:
                return
        if future.cancelled():
            # close() cancels futures only after closing, so this was the executor
            # (shutdown(cancel_futures=True)); the job never ran.
            with self._lock:
                self._jobs -= 1
            self._fail_from_thread(_ExecutorFailure(_CANCELLED))
            return
        error = future.exception()
        if error is not None and not isinstance(error, _ExecutorFailure):
            # The job never ran (a broken pool ...): it did not count itself out.
            with self._lock:
                self._jobs -= 1
            failure = _ExecutorFailure(f"rwalk.awalk: a scan job failed: {error!r}")
            failure.__cause__ = error
            self._fail_from_thread(failure)

    def _submit_check(
        self, serial: int, check: Callable[..., Any], arguments: tuple[Any, ...]
    ) -> None:
        """A link check on a user's executor; its answer is posted to the loop."""
        executor = self._executor
        assert not isinstance(executor, _ScanThreads)
        try:
            future = executor.submit(_run_check, check, arguments)
        except RuntimeError as error:
            failure = _ExecutorFailure(f"{_REFUSED} ({error})")
            failure.__cause__ = error
            self._fail(failure)
            return

        def answered(future: Future[Any]) -> None:
            with self._lock:
                self._futures.discard(future)
            if future.cancelled():
                answer: Any = _ExecutorFailure(_CANCELLED)
            elif future.exception() is not None:
                answer = _ExecutorFailure(f"rwalk.awalk: a scan job failed: {future.exception()!r}")
            else:
                answer = future.result()
            self.post_check(serial, answer)

        with self._lock:
            self._futures.add(future)
        future.add_done_callback(answered)

    def post_check(self, serial: int, answer: Any) -> None:
        """From a worker thread: the answer to a link check, for the loop."""
        if self._closed:
            return
        # RuntimeError: the event loop is closed, and nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._check_answered, serial, answer)

    def _check_answered(self, serial: int, answer: Any) -> None:
        # Only the walk's current check is awaited; an answer to an older one (whose
        # waiter was cancelled) is ignored.
        if serial != self._check_serial or self._closed:
            return
        if isinstance(answer, _ExecutorFailure):
            self._fail(answer)
            return
        self._check_result = answer
        self._wake()

    def _fail(self, failure: BaseException) -> None:
        """On the loop: the walk ends with ``failure``."""
        with self._lock:
            if self._failure is None:
                self._failure = failure
        self._wake()

    def _fail_from_thread(self, failure: BaseException) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = failure
            self._wake_walk()

    def _wake_walk(self) -> None:
        """Under the lock, on a worker: wake the walk, in place if it waits there."""
        if self._gate is not None:
            self._gate.release()
            self._gate = None
        else:
            self._wake_from_thread()

    def _wake_from_thread(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(self._wake)

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

    With ``batch``, each thread that has the default policy asks the kernel for
    ``SCHED_BATCH`` (Linux; elsewhere, if refused, or from any other policy, nothing
    changes): a scan thread whose listing returns then does not preempt the thread
    running on that CPU, which is often the one holding the GIL (the walk's loop, a
    link check, another scan), only to wait for it.  Same share of CPU time as the
    default policy, same nice value.  Measured on the 1 ms-per-directory tree
    (interleaved rounds, session 3): medians 230 -> 185 ms top-down, 178 -> 154 ms
    bottom-up, slowest round 313 -> 218 ms.  But beside other busy programs a batch
    thread woken from its listing also waits for their time slices: session 10
    measured 415-759 ms with batch scan threads there, 169-228 ms without, for 2-7 %
    more on a quiet machine.  So only the link checkers pinned to the loop's CPU are
    batch threads now (woken on the loop's own CPU, a default-policy checker preempted
    the loop, which still held the GIL); rwalk's scan threads keep the default policy.

    With ``cpu``, each thread asks to run on that CPU only, and ``pinned`` says
    whether that was granted (if refused, the thread runs wherever the kernel puts it).
    The link checkers pinned one to each CPU are such pools, batch threads.
    """

    def __init__(
        self, size: int, name: str = "rwalk-scan", *, batch: bool = False, cpu: int | None = None
    ) -> None:
        self._size = size
        self._name = name
        self._batch = batch
        self._cpu = cpu
        self.pinned = False
        # Until when a loop waiting for a check on this (pinned) thread sleeps rather
        # than gives way (see _CheckHandoff.wait); written by loop threads, read as a
        # hint (a stale value costs one wait done the other way).
        self.spin_after = 0.0
        self._lock = threading.Lock()
        # The threads started since the last stop, with their queue and counters (all
        # guarded by _lock).  A stop leaves the old generation to finish what it was
        # given and starts a new one for what comes after (see ask_to_stop).
        self._generation = _Generation()

    def run(self, task: Callable[[], None]) -> None:
        """Run ``task`` on one of the threads (queued if all are busy and at the limit)."""
        self._submit(task, only_if_free=False)

    def try_run(self, task: Callable[[], None]) -> bool:
        """Run ``task`` if a thread can take it without waiting; False if none can."""
        return self._submit(task, only_if_free=True)

    def _submit(self, task: Callable[[], None], only_if_free: bool) -> bool:
        if sys.is_finalizing():
            # Python 3.10/3.11 let Thread.start() wait forever for a thread that the
            # shutting-down interpreter ends at once (3.12+ raise this error).
            raise RuntimeError("rwalk: cannot start a scan while the interpreter exits")
        thread = None
        with self._lock:
            generation = self._generation
            threads = generation.threads
            if only_if_free and generation.queued >= generation.idle and len(threads) >= self._size:
                return False
            generation.tasks.put(task)
            generation.queued += 1
            if generation.queued > generation.idle and len(threads) < self._size:
                thread = threading.Thread(
                    target=self._serve,
                    args=(generation,),
                    name=f"{self._name}-{len(threads)}",
                    daemon=True,
                )
                threads.append(thread)
                # Counted idle from now, so that the next task does not start another.
                generation.idle += 1
        # Started outside the lock: Thread.start() waits for the new thread to run, and
        # a thread must never be waited for while holding a lock the threads take.
        if thread is not None:
            try:
                thread.start()
            except BaseException:
                # No thread ("can't start new thread"): not counted as one.  The task
                # stays queued for a thread started later; the caller sees the error.
                with self._lock:
                    generation.idle -= 1
                    threads.remove(thread)
                raise
        return True

    def _serve(self, generation: _Generation) -> None:
        if self._batch:
            _schedule_as_batch()
        if self._cpu is not None:
            with contextlib.suppress(OSError, ValueError):
                # Refused (a CPU outside this process's set, a seccomp filter): the
                # thread still checks, from wherever the kernel runs it.
                os.sched_setaffinity(0, {self._cpu})
                self.pinned = True
        get = generation.tasks.get
        lock = self._lock
        while True:
            task = get()
            if task is None:
                return  # stopped, after every task queued before the stop was taken
            with lock:
                generation.queued -= 1
                generation.idle -= 1
            try:
                task()
            except BaseException:
                pass
            finally:
                task = None
            with lock:
                generation.idle += 1

    def stop(self, seconds: float) -> None:
        """Ask every thread to stop, and wait up to ``seconds`` in all for them."""
        _join_all(self.ask_to_stop(), seconds)

    def ask_to_stop(self) -> list[threading.Thread]:
        """Tell every thread to stop once it has taken every task queued so far.

        Returns the threads, to wait for.  They keep their queue, and each ends when it
        takes its stop, queued behind those tasks.  Work that comes later (an exit
        handler that walks, a thread that submits while the stop is under way) goes to
        a new generation of threads with a queue of its own: queued behind the stops,
        it had no thread left to take it once they ended (found in review).
        """
        with self._lock:
            stopped, self._generation = self._generation, _Generation()
        for _ in stopped.threads:
            stopped.tasks.put(None)
        return stopped.threads


_Task: TypeAlias = "Callable[[], None] | None"


class _Generation:
    """The threads of one :class:`_ScanThreads` between two stops, with their queue.

    ``idle``: threads waiting for a task; ``queued``: tasks waiting for a thread.  A
    task must never wait behind another while a thread could still be started.
    """

    __slots__ = ("idle", "queued", "tasks", "threads")

    def __init__(self) -> None:
        self.tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.idle = 0
        self.queued = 0


def _join_all(threads: list[threading.Thread], seconds: float) -> None:
    """Wait for ``threads`` to end, ``seconds`` at most in all."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        # RuntimeError: made and not yet started by a submit in another thread (a
        # daemon: nothing to wait for yet).
        with contextlib.suppress(RuntimeError):
            thread.join(max(0.0, deadline - time.monotonic()))


def _schedule_as_batch() -> None:
    """Ask for ``SCHED_BATCH`` for the calling thread, if it has the default policy.

    Only from ``SCHED_OTHER``: a thread that inherited ``SCHED_IDLE`` (a program run
    with ``chrt -i``), a real-time or already a batch policy keeps it, so that this
    never raises or lowers anyone's priority.  Where there is no such thing (not
    Linux), or the kernel refuses (a seccomp filter; musl, whose call always fails),
    nothing changes.
    """
    names = ("SCHED_BATCH", "SCHED_OTHER", "sched_getscheduler", "sched_setscheduler")
    if not all(hasattr(os, name) for name in (*names, "sched_param")):
        return
    # On Linux, pid 0 is the calling thread.
    with contextlib.suppress(OSError):
        if os.sched_getscheduler(0) == os.SCHED_OTHER:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


_shared_threads: _ScanThreads | None = None
# Every walk's scheduler not yet collected, to fail them in a forked child.
_live_schedulers: weakref.WeakSet[_Scheduler[Any]] = weakref.WeakSet()
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
                # Default policy, not SCHED_BATCH (session 10): beside busy processes,
                # batch scan threads woken from a listing waited for the other
                # programs' time slices (latency tree 415-759 ms, against 169-228 ms).
                _shared_threads = _ScanThreads(DEFAULT_THREADS)
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
            checkers = _shared_checkers
    return checkers


# Link checkers pinned one to a CPU, made when a walk's loop thread is first seen
# there, keyed by CPU number (they also run the scan job a walk in turns waits for).
# At most this many: a loop thread migrates, so on a large machine a long-lived
# program may meet most of its CPUs.
_cpu_checkers: dict[int, _ScanThreads] = {}
_CPU_CHECKERS_MAX = 32


def _load_getcpu() -> Callable[[], int] | None:
    """``sched_getcpu()`` from the C library, or None (not Linux, no ctypes, no symbol).

    Through ``PyDLL``, which keeps the GIL during the call: ``sched_getcpu`` never
    blocks (the vDSO or one instruction), and a ``CDLL`` call gives the GIL up, so that
    the loop could lose it to a busy thread before handing the check over (measured,
    one CPU-bound thread beside it: 13 of 300 calls took over 1 ms; none with ``PyDLL``).
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        import ctypes  # with awalk's module, not by import rwalk (Linux only)

        getcpu = ctypes.PyDLL(None).sched_getcpu
    except (ImportError, OSError, AttributeError):
        return None
    getcpu.restype = ctypes.c_int
    getcpu.argtypes = []
    return getcpu


# sched_getcpu() from the C library; None where there is none.  Looked up with this
# module (the first use of rwalk.awalk), not at a walk's first link check: importing
# ctypes reads files (~2.5 ms), which the event loop's thread must not do mid-walk, and
# which rwalk's own threads must not do either (a fork while one of them holds the
# import lock would leave the child's walk waiting for it forever: found in review).
_getcpu: Callable[[], int] | None = _load_getcpu()


def _checker_on_this_cpu() -> _ScanThreads | None:
    """The link checker pinned to the CPU the calling thread runs on (made if need be).

    None where the CPU cannot be known, or when _CPU_CHECKERS_MAX CPUs have one.  Why a
    check goes there: see :meth:`_CheckHandoff.wait` and design.md ("Link checks on the
    loop's own CPU").  A walk in turns starts the scan job it waits for there too, when
    the checker is free (see :meth:`_Scheduler._start_jobs`).
    """
    if _getcpu is None:
        return None
    cpu = _getcpu()
    checker = _cpu_checkers.get(cpu)
    if checker is None and cpu >= 0:
        with _shared_threads_lock:
            checker = _cpu_checkers.get(cpu)
            if checker is None and len(_cpu_checkers) < _CPU_CHECKERS_MAX:
                # A batch thread: woken by the loop on the loop's own CPU, a thread of
                # the default policy preempted the loop at once, only to wait for the
                # GIL the loop still held (2.2 switches of the loop per check, against
                # 1; an empty check there and back 14-15 us, against 6 us).
                checker = _cpu_checkers[cpu] = _ScanThreads(
                    1, f"rwalk-check-cpu{cpu}", batch=True, cpu=cpu
                )
    return checker


def _stop_threads_at_exit(seconds: float = _EXIT_GRACE_SECONDS) -> None:
    """Tell all of this process's rwalk threads to stop; wait ``seconds`` in all for them.

    One deadline for every pool (one per pool would add up: a second for each pinned
    checker stuck in a scan on a dead mount).  Reads the pools as they are now, so a
    forked child never touches its parent's (whose locks a parent thread may have held
    at the fork).
    """
    pools = [_shared_threads, _shared_checkers, *_cpu_checkers.values()]
    threads = [thread for pool in pools if pool is not None for thread in pool.ask_to_stop()]
    _join_all(threads, seconds)


atexit.register(_stop_threads_at_exit)


def _forget_threads_after_fork() -> None:
    # A forked child has none of the parent's threads: tasks queued on the parent's
    # pool would wait for threads that do not exist.
    global _shared_threads, _shared_checkers, _shared_threads_lock, _cpu_checkers  # noqa: PLW0603 - reset in a fork
    _shared_threads = None
    _shared_checkers = None
    _cpu_checkers = {}
    _shared_threads_lock = threading.Lock()
    # A set being changed by another thread at the fork (which the child does not have)
    # is left as it is: those walks then fail as their scans never come.
    with contextlib.suppress(RuntimeError):
        for scheduler in list(_live_schedulers):
            scheduler.forked()


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
        that runs its tasks in this process (a thread pool: jobs share the walk's
        nodes, so a ``ProcessPoolExecutor`` is refused with ``ValueError``); if it is
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
    :raises ValueError: at call time, for a process pool as ``executor``,
        ``concurrency < 1``, ``read_ahead < 0``, or a negative ``max_depth``.

    With any of the options beyond ``os.walk`` set, each directory is listed, sorted
    and chosen by the same functions as in :func:`rwalk.walk`'s walk with options (the
    choice of the directories to enter, with its ``stat`` calls, on a worker after each
    yield): the same tuples and errors, scheduled as above.
    """
    root: AnyStr = check_walk_arguments(top, onerror)
    _check_scheduling(executor, concurrency, read_ahead)
    options = make_options(
        max_depth=max_depth, detect_loops=detect_loops, one_filesystem=one_filesystem, sort=sort
    )
    # As rwalk.walk and os.walk do: the arguments as given.
    sys.audit("rwalk.awalk", top, topdown, onerror, followlinks)
    if not options.is_plain:
        return _walk_with_options(
            root,
            topdown,
            onerror=onerror,
            followlinks=bool(followlinks),
            executor=executor,
            concurrency=concurrency,
            read_ahead=read_ahead,
            options=options,
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
    concurrency: int = DEFAULT_CONCURRENCY,
    read_ahead: int = DEFAULT_READ_AHEAD,
    max_depth: int | None = None,
    detect_loops: bool = False,
    one_filesystem: bool = False,
    sort: bool | Callable[[os.DirEntry[AnyStr]], Any] = False,
) -> AsyncGenerator[EntryTuple[AnyStr], None]:
    """:func:`rwalk.walk_entries` for asyncio: ``os.DirEntry`` lists, scans on threads.

    The same walk as :func:`rwalk.walk_entries`, scheduled as :func:`awalk` schedules
    it (``executor``, ``concurrency`` and ``read_ahead`` as there); ``onerror`` runs on
    the loop and is awaited if it returns an awaitable.  Prune by editing
    ``directory_entries``.
    """
    root: AnyStr = check_walk_arguments(top, onerror)
    _check_scheduling(executor, concurrency, read_ahead)
    options = make_options(
        max_depth=max_depth,
        detect_loops=detect_loops,
        one_filesystem=one_filesystem,
        sort=sort,
        entries=True,
    )
    sys.audit("rwalk.awalk_entries", top, topdown, onerror, followlinks)
    return _walk_with_options(
        root,
        topdown,
        onerror=onerror,
        followlinks=bool(followlinks),
        executor=executor,
        concurrency=concurrency,
        read_ahead=read_ahead,
        options=options,
    )


def _check_scheduling(executor: object, concurrency: int, read_ahead: int) -> None:
    """The call-time checks of awalk's own arguments (see check_walk_arguments)."""
    _check_executor(executor)
    _check_count("concurrency", concurrency, 1)
    _check_count("read_ahead", read_ahead, 0)


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor or None, not {type(executor).__name__}"
        )
    # Looked up, not imported: no executor can be a ProcessPoolExecutor before that
    # class exists, and importing its module with this one (multiprocessing, tempfile,
    # shutil, ...) took ~8 ms of the first use of rwalk.awalk, maybe on the loop's
    # thread.  getattr: while another thread imports it, the module is already in
    # sys.modules without the class.
    pool_class = getattr(sys.modules.get("concurrent.futures.process"), "ProcessPoolExecutor", None)
    if isinstance(pool_class, type) and isinstance(executor, pool_class):
        # Jobs take directories from, and attach listings to, the walk's own nodes.
        raise ValueError(
            "executor must run its tasks in this process (a thread pool): "
            "awalk's scans share the walk's state, which cannot move to another process"
        )


def _call_on(
    loop: asyncio.AbstractEventLoop, pool: Executor | _ScanThreads, function: Any, *args: Any
) -> asyncio.Future[Any]:
    """``function(*args)`` on ``pool``, as a future of the running loop.

    A user's executor that refuses the call, or cancels it (``shutdown(cancel_futures=
    True)``), fails the future with the walk's own errors, as for scan jobs: not with
    the executor's message, nor with a ``CancelledError`` that would look like the
    caller's task being cancelled (found in session 9's audit).
    """
    future: asyncio.Future[Any] = loop.create_future()

    def settle(outcome: Any, failed: bool) -> None:
        if future.done():
            return
        if failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    if not isinstance(pool, _ScanThreads):
        try:
            submitted = pool.submit(function, *args)
        except RuntimeError as error:
            failure = _ExecutorFailure(f"{_REFUSED} ({error})")
            failure.__cause__ = error
            future.set_exception(failure)
            return future

        def transfer(done: Future[Any]) -> None:
            failed = True
            if done.cancelled():
                outcome: Any = _ExecutorFailure(_CANCELLED)
            elif (error := done.exception()) is not None:
                outcome = error
            else:
                outcome, failed = done.result(), False
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, outcome, failed)

        def cancel_submitted(awaited: asyncio.Future[Any]) -> None:
            if awaited.cancelled():  # the walk was cancelled while it waited
                submitted.cancel()

        submitted.add_done_callback(transfer)
        future.add_done_callback(cancel_submitted)
        return future

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
    """``onerror(error)`` on the loop, awaited if it returns an awaitable; called, as
    ``os.walk`` calls it, while ``error`` is handled (see ``rwalk._walk.report_error``)."""
    if onerror is None:
        return
    try:
        raise error
    except OSError as handled:
        error = None  # type: ignore[assignment]
        outcome = onerror(handled)
        if inspect.isawaitable(outcome):
            await outcome


async def _report_failed_scan(onerror: OnError | None, failure: OSError | _ScanCrash) -> None:
    """A directory whose scan failed: its ``OSError`` goes to ``onerror``; anything else
    the scan raised is raised here, where ``rwalk.walk`` would have raised it."""
    if isinstance(failure, _ScanCrash):
        raise failure.exception
    await _report(onerror, failure)


def _start_scheduler(
    executor: Executor | None,
    followlinks: bool,
    concurrency: int,
    read_ahead: int,
    options: WalkOptions | None = None,
) -> _Scheduler[AnyStr]:
    # Called from inside the generators, at the first __anext__: only then is the
    # event loop known (awalk() itself may be called outside any loop).
    return _Scheduler(
        asyncio.get_running_loop(),
        executor if executor is not None else _default_executor(),
        followlinks,
        concurrency,
        read_ahead,
        options=options,
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
        clock = time.perf_counter
        while pending:
            node = pending.pop()
            result = node.result
            if result is not None and not scheduler._parallel and scheduler._failure is None:
                # take()'s path in turns, inline: a method call less per directory.
                node.result = None
                node.state = _TAKEN
                scheduler._released += 1
            else:
                result = scheduler.take(node) or await scheduler.listing(node)
            now = clock()
            if now - scheduler._turn_taken >= _TURN_SECONDS:  # owes_the_loop_a_turn()
                scheduler._turn_taken = now
                await asyncio.sleep(0)
            if not isinstance(result, tuple):
                await _report_failed_scan(onerror, result)
                continue
            dirnames, filenames, _ = result
            path = node.path
            entries = len(dirnames) + len(filenames)
            yield path, dirnames, filenames
            # The caller has had its chance to prune or reorder dirnames.
            if dirnames:
                paths = await scheduler.subdirectories_to_enter(path, dirnames, entries)
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
                await _report_failed_scan(onerror, result)
                continue
            dirnames, filenames, _ = result
            pending.append((item.path, dirnames, filenames))
            children: list[_Directory[AnyStr]] = scheduler.children_of(item)
            children.reverse()
            pending += children
    finally:
        scheduler.close()


# -- the walk with the options beyond os.walk -------------------------------------------
#
# The same scheduler, with each directory listed by rwalk.walk's scan_with_options and
# the choice of the directories to enter made after the yield (top-down) or before
# descending (bottom-up) by rwalk._scan.choose_directories on a worker: the semantics
# are those functions', shared with rwalk.walk; what is below is only their order.


class _Leave:
    """In the pending stack: the walk leaves the subtree of a directory with this id."""

    __slots__ = ("identity",)

    def __init__(self, identity: DirectoryId) -> None:
        self.identity = identity


async def _identify_root(
    scheduler: _Scheduler[AnyStr], root: _Directory[AnyStr], options: WalkOptions
) -> None:
    """Give ``root`` its id (read when the walk starts, as rwalk.walk reads it), on a
    worker, and the scheduler the device of ``top`` (``one_filesystem``)."""
    if not options.needs_device_and_inode:
        return
    identity = await _call_on(scheduler._loop, scheduler._executor, directory_id, root.path)
    root.identity = identity
    scheduler.top_device = identity[0] if identity is not None else None


def _choose_after_yield(
    top: AnyStr,
    directories: list[Any],
    *,
    followlinks: bool,
    options: WalkOptions,
    ancestors: dict[DirectoryId, AnyStr],
    top_device: int | None,
) -> list[tuple[AnyStr, DirectoryId | None] | OSError]:
    """On a worker: the directories a top-down walk with options enters after ``top``."""
    paths = paths_after_yield(top, directories, followlinks, options)
    return choose_directories(
        paths, ancestors, top_device, options.detect_loops, options.one_filesystem
    )


def _in_order(
    choices: list[tuple[AnyStr, DirectoryId | None] | OSError],
    nodes: list[_Directory[AnyStr]],
) -> list[_Directory[AnyStr] | OSError]:
    """The errors of ``choices`` and its chosen paths' nodes (``nodes``, one per chosen
    path, in order: a path the caller gave twice has two), given their ids."""
    chosen = iter(nodes)
    items: list[_Directory[AnyStr] | OSError] = []
    for choice in choices:
        if isinstance(choice, OSError):
            items.append(choice)
            continue
        node = next(chosen)
        node.identity = choice[1]
        items.append(node)
    return items


async def _walk_with_options(
    top: AnyStr,
    topdown: bool,
    *,
    onerror: OnError | None,
    followlinks: bool,
    executor: Executor | None,
    concurrency: int,
    read_ahead: int,
    options: WalkOptions,
) -> AsyncGenerator[tuple[AnyStr, list[Any], list[Any]], None]:
    """rwalk.walk's walk with options, top-down or bottom-up, on the scheduler.

    One loop for both orders (unlike the plain walks, whose loops are the benchmark's
    hot path): the pending stack holds nodes to visit, errors to report where the walk
    meets them, finished tuples (bottom-up), and where a directory's subtree ends.
    """
    scheduler: _Scheduler[AnyStr] = _start_scheduler(
        executor, followlinks, concurrency, read_ahead, options
    )
    try:
        root = _Directory(top)
        await _identify_root(scheduler, root, options)
        top_device = scheduler.top_device
        # The ids of the directories from top to the current one (detect_loops).
        ancestors: dict[DirectoryId, AnyStr] = {}
        pending: list[_Directory[AnyStr] | OSError | _Leave | tuple[AnyStr, list[Any], list[Any]]]
        pending = [root]
        # Top-down, without file-system calls to make, the choice is made on the loop.
        inline = followlinks and not options.needs_device_and_inode
        while pending:
            item = pending.pop()
            if type(item) is tuple:
                yield item
                continue
            if isinstance(item, _Leave):
                del ancestors[item.identity]
                continue
            if isinstance(item, OSError):
                await _report(onerror, item)
                continue
            assert isinstance(item, _Directory)
            node = item
            result = scheduler.take(node) or await scheduler.listing(node)
            if scheduler.owes_the_loop_a_turn():
                await asyncio.sleep(0)
            if not isinstance(result, tuple):
                await _report_failed_scan(onerror, result)
                continue
            directories, files, enter_paths = result
            path = node.path
            if topdown:
                yield path, directories, files
                if not directories or not enters_below(node.depth, options):
                    if node.children:
                        scheduler.adopt(node, [])  # nothing is entered
                    continue
            else:
                pending.append((path, directories, files))
                if not enter_paths:
                    continue
            tracked = node.identity if options.detect_loops else None
            if tracked is not None:
                ancestors[tracked] = path
                pending.append(_Leave(tracked))
            if topdown:
                choose = partial(
                    _choose_after_yield,
                    followlinks=followlinks,
                    options=options,
                    ancestors=ancestors,
                    top_device=top_device,
                )
                # A copy: the caller's list as it is now (as rwalk.walk reads it).
                choices: list[tuple[AnyStr, DirectoryId | None] | OSError] = (
                    choose(path, list(directories))
                    if inline
                    else await scheduler.after_yield(choose, path, list(directories))
                )
            elif options.needs_device_and_inode:
                # Entered as the scan's cached types say (as os.walk decides bottom-up).
                choices = await scheduler.after_yield(
                    choose_directories,
                    enter_paths,
                    ancestors,
                    top_device,
                    options.detect_loops,
                    options.one_filesystem,
                )
            else:
                choices = [(enter_path, None) for enter_path in enter_paths]
            # One node per chosen path, in order: speculative ones reused, the others
            # discarded, fresh ones for paths no job listed (or the caller repeated).
            chosen = [choice[0] for choice in choices if not isinstance(choice, OSError)]
            items = _in_order(choices, scheduler.adopt(node, chosen))
            items.reverse()
            pending += items
    finally:
        scheduler.close()
