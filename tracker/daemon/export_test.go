package daemon

import "time"

// The tests see a rotated certificate within a tenth of a second.
func init() { certCheckInterval = 50 * time.Millisecond }
