package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Group commit. SQLite has one writer, and the cost of a write transaction
// is mostly its commit: every page it changed goes to the WAL (two pwrite
// calls a page) and the WAL's locks are taken and released. Sign-ins that
// arrive together change many of the same pages (the rightmost leaves of
// the sign-in log and its indexes, the day's report counters), so the hot
// writes (a sign-in's completion, the sign-in log) are queued to one
// goroutine that runs whatever is waiting in one transaction, each write in
// a savepoint of its own, and commits once. Every caller still returns
// only after the commit that holds its write: an acknowledged write is as
// durable as before, and a write that fails rolls back to its savepoint
// without touching the others. An idle server does not wait to fill a
// batch: a write that arrives alone is committed alone, at once; batches
// form while the previous commit is under way, and while the server is
// busy (busyGap) a batch lingers briefly for company (lingerFor)
// (docs/performance.md, issue 14).

// maxBatch bounds one transaction: past this the latency of the last
// write in it would grow for little saving per write.
const maxBatch = 64

// lingerFor is how long a batch waits for more writes while the server is
// busy: as PostgreSQL's commit_delay, a little latency under load buys
// bigger batches and so fewer pages written per sign-in (sesame bench, 16
// concurrent: 1.8 -> 2.9 writes per commit, 927 -> 809 us of server CPU per
// sign-in, 1,219 -> 1,360 sign-ins/s). A write that arrives alone never
// waits.
const lingerFor = 500 * time.Microsecond

// busyGap tells a busy server: the previous batch had company, or it
// began less than busyGap before this one (over 500 writes a second). At
// 1,000 sign-ins/s batches were nearly always alone (1.2 to 1.4 writes per
// commit) until the second rule: with it 1.7 to 1.9, 5 to 8% less server
// CPU per sign-in and less WAL to checkpoint; p99 45-58 -> 22-35 ms, for
// about a millisecond more at the median of the finish step.
const busyGap = 2 * time.Millisecond

type batchOp struct {
	ctx context.Context
	fn  func(t rawTx) error
	err chan error // buffered: the committer never waits for the caller
}

type committer struct {
	w     db
	queue chan *batchOp
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
	// Batches and ops count what group commit does (tests, benchmarks).
	mu           sync.Mutex
	batches, ops int64
}

func newCommitter(w db) *committer {
	c := &committer{w: w, queue: make(chan *batchOp, maxBatch), quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

var errClosed = errors.New("sqlite: store closed")

// do runs fn in a write transaction shared with other writes queued at
// the same time, and returns once that transaction has committed (nil) or
// fn's own error, or the commit's. fn must not keep t after it returns,
// and it sees its own writes and those of the batch's earlier writes.
//
// A caller whose ctx ends while its write is queued gets ctx's error and
// its write is not run; once the write has started it runs to its end
// (the caller then learns whether it was committed).
func (c *committer) do(ctx context.Context, fn func(t rawTx) error) error {
	op := &batchOp{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case c.queue <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return errClosed
	}
	select {
	case err := <-op.err:
		return err
	case <-c.done:
		// The committer ran what was queued before it stopped, so an op
		// without an answer by now was never run.
		select {
		case err := <-op.err:
			return err
		default:
			return errClosed
		}
	}
}

func (c *committer) loop() {
	defer close(c.done)
	ops := make([]*batchOp, 0, maxBatch)
	last := 0            // writes in the previous batch
	var lastAt time.Time // when the previous batch was formed
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case op := <-c.queue:
			ops = append(ops[:0], op)
		case <-c.quit:
			// Writes queued before Close still run.
			for {
				select {
				case op := <-c.queue:
					c.run([]*batchOp{op})
				default:
					return
				}
			}
		}
	collect:
		for len(ops) < maxBatch {
			select {
			case op := <-c.queue:
				ops = append(ops, op)
			default:
				break collect
			}
		}
		now := time.Now()
		busy := last > 1 || now.Sub(lastAt) < busyGap
		lastAt = now
		if busy && len(ops) < maxBatch {
			linger.Reset(lingerFor)
		wait:
			for len(ops) < maxBatch {
				select {
				case op := <-c.queue:
					ops = append(ops, op)
				case <-linger.C:
					break wait
				}
			}
			linger.Stop()
		}
		last = len(ops)
		c.run(ops)
	}
}

// close stops the committer after the writes already queued.
func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}

// stats reports how many transactions committed how many writes.
func (c *committer) stats() (batches, ops int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches, c.ops
}

// run runs one batch and tells every caller its outcome.
func (c *committer) run(ops []*batchOp) {
	errs := make([]error, len(ops))
	err := c.transact(ops, errs)
	committed := 0
	for i, op := range ops {
		e := errs[i]
		if e == nil && err != nil {
			e = err
		}
		if e == nil {
			committed++
		}
		op.err <- e
	}
	if committed > 0 {
		c.mu.Lock()
		c.batches++
		c.ops += int64(committed)
		c.mu.Unlock()
	}
}

// transact runs ops in one transaction. It sets errs[i] to op i's own
// error and returns an error that applies to every op without one (the
// transaction could not begin or commit).
func (c *committer) transact(ops []*batchOp, errs []error) error {
	// Statements run without the callers' deadlines: once a batch has
	// begun, stopping one statement midway would cost the whole batch a
	// rollback, and a context without Done spares the driver a goroutine
	// per statement.
	ctx := context.Background()
	conn, err := c.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("sqlite: driver connection %T", dc)
		}
		cache, _ := c.w.raw.LoadOrStore(dconn, new(sync.Map))
		t := rawTx{ctx: ctx, conn: dconn, stmts: cache.(*sync.Map)}
		if _, err := t.exec("BEGIN IMMEDIATE"); err != nil {
			return err
		}
		ran := 0
		for i, op := range ops {
			if err := op.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			op := rawTx{ctx: context.WithoutCancel(op.ctx), conn: dconn, stmts: t.stmts}
			if len(ops) == 1 {
				// Alone in its transaction: no savepoint needed.
				if errs[i] = safely(ops[i].fn, op); errs[i] != nil {
					return rollback(t, nil)
				}
				ran++
				continue
			}
			if _, err := t.exec("SAVEPOINT w"); err != nil {
				return rollback(t, err)
			}
			if errs[i] = safely(ops[i].fn, op); errs[i] != nil {
				// Undo this write only; the batch goes on.
				if _, err := t.exec("ROLLBACK TO w"); err != nil {
					return rollback(t, err)
				}
			}
			if _, err := t.exec("RELEASE w"); err != nil {
				return rollback(t, err)
			}
			if errs[i] == nil {
				ran++
			}
		}
		if ran == 0 {
			return rollback(t, nil)
		}
		if _, err := t.exec("COMMIT"); err != nil {
			rollback(t, nil)
			return err
		}
		return nil
	})
}

// safely runs one write, turning a panic into its error: in a request's
// goroutine a panic would have been one failed request (the recoverer
// middleware), in the committer it would take the whole server down.
func safely(fn func(t rawTx) error, t rawTx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", r)
		}
	}()
	return fn(t)
}

// rollback ends the transaction and returns err. A rollback that fails
// leaves the connection in an unknown state: it is discarded.
func rollback(t rawTx, err error) error {
	if _, rerr := t.exec("ROLLBACK"); rerr != nil {
		return errors.Join(err, rerr, driver.ErrBadConn)
	}
	return err
}

// checkpointEvery is how often the WAL is copied back into the database
// file by a connection of its own (see checkpointer). Often and small is
// better for latency than rare and large: a checkpoint holds a core while
// it copies, and sign-ins queue behind it. At 1,000 sign-ins/s the p99 of
// a sign-in was 31 to 40 ms with 500 ms and 21 to 23 ms with 100 ms, for
// the same CPU per sign-in (docs/performance.md).
const checkpointEvery = 100 * time.Millisecond

// restartFrames is how long the WAL may grow (frames of one page, 4 KiB
// each: 160 MiB) before the writer copies what the checkpointer has not
// yet copied and starts the WAL over (its automatic checkpoint, dsn).
//
// Under load only the writer starts the WAL over: the checkpointer's copies
// never catch up with a writer that keeps appending, and readers keep
// using the WAL meanwhile. Starting over is a pause for every write: the
// writer's checkpoint copies what the checkpointer has not (a sign-in
// writes about 15 frames, so at 1,000 sign-ins/s 100 ms of WAL is 1,500
// frames) and syncs the WAL and the database file, and its next commit
// syncs a new WAL header; under load those syncs made a pause of 20 to 90
// ms on the VM of docs/performance.md (5.6 to 8.5 ms p99 with them off).
// With the old threshold of 10,000 frames it came every 0.7 s and was the
// p99 of the finish step; 40,000 make it every 2.7 s, and the checkpointer
// shortens it (closeCheckpointEvery).
const restartFrames = 40000

// closeCheckpointEvery is the checkpointer's pace when the writer's
// checkpoint is near (within two rounds of restartFrames at the rate the
// WAL grows): then the writer has at most a few milliseconds of WAL left
// to sync and copy, not up to 100 ms of it.
const closeCheckpointEvery = 5 * time.Millisecond

// checkpointer copies the WAL into the database file in the background.
// By default SQLite does that in the writer, in the commit that takes the
// WAL past 1,000 pages: that commit, and every write queued behind it,
// waits for the copy and its fsync calls. A PASSIVE checkpoint on another
// connection copies what it can without blocking the writer or readers, on
// another core, so that the writer's own checkpoint (restartFrames) has
// only the last frames left to copy; while that is near it runs every
// closeCheckpointEvery.
func checkpointer(db *sql.DB, quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTimer(checkpointEvery)
	defer t.Stop()
	last, lastAt := 0, time.Now()
	near := false // the previous round found the writer's checkpoint near
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		// Errors (SQLITE_BUSY while the writer checkpoints, or another
		// process's checkpoint) only mean this round copied less.
		frames, err := checkpoint(db)
		now := time.Now()
		wait := checkpointEvery
		switch {
		case err != nil:
			// When near, most likely the writer's own checkpoint: look
			// again soon, once.
			if near {
				wait = closeCheckpointEvery
			}
			near = false
		case frames < last:
			// The WAL started over since the last round.
			last, lastAt, near = frames, now, false
		default:
			near = nearRestart(frames, frames-last, now.Sub(lastAt))
			if near {
				wait = closeCheckpointEvery
			}
			last, lastAt = frames, now
		}
		t.Reset(wait)
	}
}

// nearRestart reports whether the WAL, holding frames after growing by
// grew in the last elapsed, will reach restartFrames within two of the
// checkpointer's ordinary rounds.
func nearRestart(frames, grew int, elapsed time.Duration) bool {
	if grew <= 0 || elapsed <= 0 {
		return false
	}
	ahead := float64(grew) * float64(2*checkpointEvery) / float64(elapsed)
	return float64(frames)+ahead >= restartFrames
}

// checkpoint runs one PASSIVE checkpoint and returns how many frames the
// WAL holds.
func checkpoint(db *sql.DB) (frames int, err error) {
	var busy, copied int
	if err := db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return 0, err
	}
	if busy != 0 || frames < 0 {
		return 0, errBusy
	}
	return frames, nil
}

var errBusy = errors.New("sqlite: checkpoint busy")
