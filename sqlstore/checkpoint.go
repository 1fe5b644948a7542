package sqlstore

import (
	"context"
	"sync"
	"time"
)

// checkpointer copies SQLite's WAL back into the database file on a
// connection of its own, behind the writer.
//
// SQLite checkpoints in the commit that crosses wal_autocheckpoint: that
// commit (an ingest batch, the engine's findings, a flush of the state
// tables) then also copies ~40 MiB of pages and syncs the file, while
// every other writer of the process waits for it — the longest stalls of
// the event → finding latency. A PASSIVE checkpoint on another connection
// takes no write lock: writers go on appending to the WAL meanwhile.
type checkpointer struct {
	kick     chan struct{}
	stop     chan struct{}
	done     sync.WaitGroup
	interval time.Duration
}

// CheckpointBehind starts checkpointing the WAL on a read connection,
// at most once per interval and only after commits (SQLite only). While
// these complete, the WAL restarts from its beginning and never reaches
// the writer connection's wal_autocheckpoint, which is left as the
// backstop for a WAL that grows faster. Close stops it.
func (s *Store) CheckpointBehind(interval time.Duration) {
	if s.dialect != SQLite || s.ckpt != nil {
		return
	}
	c := &checkpointer{kick: make(chan struct{}, 1), stop: make(chan struct{}), interval: interval}
	s.ckpt = c
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		for {
			select {
			case <-c.stop:
				return
			case <-c.kick:
			}
			// A failed checkpoint is not an error of anything the store
			// was asked to do: the next one, or the writer's own
			// automatic checkpoint, copies the same pages.
			_ = s.checkpoint()
			t := time.NewTimer(c.interval)
			select {
			case <-c.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// checkpoint runs one PASSIVE checkpoint: it copies what it can without
// waiting for readers or writers.
func (s *Store) checkpoint() error {
	ctx := context.Background()
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	return err
}

// committed tells the checkpointer that the WAL grew; called with
// writeMu held.
func (s *Store) committed() {
	if s.ckpt == nil {
		return
	}
	select {
	case s.ckpt.kick <- struct{}{}:
	default:
	}
}

// stopCheckpoints stops the checkpointer and waits for it; called with
// writeMu held.
func (s *Store) stopCheckpoints() {
	if s.ckpt == nil {
		return
	}
	close(s.ckpt.stop)
	s.ckpt.done.Wait()
	s.ckpt = nil
}
