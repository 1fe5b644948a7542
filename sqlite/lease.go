package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// LeaseFile returns a leaser that holds an exclusive lock on a file beside
// the database at dbPath, one per workspace. The kernel drops the lock
// when the process dies, so a waiting process takes over at once. Stores
// opened with Open use it; it is exported for callers that must know a
// database is in use before they touch its files.
func LeaseFile(dbPath string) func(ctx context.Context, workspace string) (func() error, error) {
	return func(ctx context.Context, workspace string) (func() error, error) {
		path := fmt.Sprintf("%s.%s.lease", dbPath, workspace)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
		for {
			err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				return func() error {
					defer f.Close()
					return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				}, nil
			}
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				f.Close()
				return nil, fmt.Errorf("lease %s: %w", path, err)
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("lease on workspace %q: %w", workspace, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}
