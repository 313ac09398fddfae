package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuStat is the machine's CPU time so far, all CPUs together, in clock
// ticks (the first line of /proc/stat): the total, and the steal, time a
// virtual machine was ready to run but the hypervisor ran something else.
type cpuStat struct {
	total, steal uint64
}

// readCPUStat reads /proc/stat (Linux only; an error elsewhere).
func readCPUStat() (cpuStat, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuStat{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuStat{}, fmt.Errorf("/proc/stat: empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return cpuStat{}, fmt.Errorf("/proc/stat line 1: want cpu and at least 8 counters, got %q", sc.Text())
	}
	var s cpuStat
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuStat{}, fmt.Errorf("/proc/stat line 1, counter %d: %w", i+1, err)
		}
		if i < 8 { // user … steal; guest time is already counted in user
			s.total += v
		}
		if i == 7 {
			s.steal = v
		}
	}
	return s, nil
}

// stealSince returns the fraction of the CPU time since earlier that the
// hypervisor took.
func (s cpuStat) stealSince(earlier cpuStat) float64 {
	if s.total <= earlier.total {
		return 0
	}
	return float64(s.steal-earlier.steal) / float64(s.total-earlier.total)
}
