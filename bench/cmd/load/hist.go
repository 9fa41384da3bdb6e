package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a fixed-size, lock-free latency histogram: values in nanoseconds,
// 64 linear sub-buckets per power of two (relative error under 1.6 %), up to
// 2^42 ns (about 73 minutes). Memory does not grow with the sample count.
type hist struct {
	buckets [histBuckets]atomic.Int64
	count   atomic.Int64
	max     atomic.Int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxExp  = 42
	histBuckets = (histMaxExp - histSubBits + 2) * histSub
)

func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < histSub {
		return int(v)
	}
	exp := bits.Len64(uint64(v)) - histSubBits - 1 // v>>exp is in [64,128)
	idx := (exp+1)*histSub + int(v>>exp) - histSub
	if idx >= histBuckets {
		return histBuckets - 1
	}
	return idx
}

// histValue is the middle of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	exp := i/histSub - 1
	lo := int64(histSub+i%histSub) << exp
	return lo + (int64(1)<<exp)/2
}

func (h *hist) add(d time.Duration) {
	v := int64(d)
	h.buckets[histIndex(v)].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1) in microseconds, 0 if empty.
func (h *hist) quantile(q float64) float64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n) + 0.5)
	rank = max(1, min(rank, n))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			v := histValue(i)
			if m := h.max.Load(); v > m {
				v = m
			}
			return float64(v) / 1e3
		}
	}
	return float64(h.max.Load()) / 1e3
}
