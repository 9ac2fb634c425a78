// Package logtest holds what tests of jobwatch's services need to read their
// logs. It is not part of the library's API.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a log destination that the goroutines of a service under test
// may write to at once, and the test read from.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
