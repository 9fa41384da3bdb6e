//go:build !unix

package keys

import "time"

func processCPU() time.Duration { return 0 }
