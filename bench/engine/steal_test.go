package main

import (
	"os"
	"testing"
)

func TestStealSince(t *testing.T) {
	a := cpuStat{total: 1000, steal: 10}
	b := cpuStat{total: 1400, steal: 110}
	if got := b.stealSince(a); got != 0.25 {
		t.Errorf("steal fraction %g, want 0.25", got)
	}
	if got := a.stealSince(a); got != 0 {
		t.Errorf("no time passed: %g, want 0", got)
	}
}

func TestReadCPUStat(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat here")
	}
	s, err := readCPUStat()
	if err != nil {
		t.Fatal(err)
	}
	if s.total == 0 || s.steal > s.total {
		t.Fatalf("implausible counters: %+v", s)
	}
}
