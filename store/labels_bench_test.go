package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rustexpert/sheet"
)

// labelBench is a database as the label benchmark (bench/labels) seeds it: annotators and
// two-answer comparisons of one job.
type labelBench struct {
	st         *Store
	annotators []int64
	items      []Item
	answers    [][2]int64 // the answer ids of each item
}

func newLabelBench(b *testing.B, annotators, prompts int) *labelBench {
	b.Helper()
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	lb := &labelBench{st: st}
	for i := range annotators {
		// Not CreateUser: its bcrypt hash would take most of the set-up time, and nobody logs in.
		res, err := st.write.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES (?, '', ?, ?)`,
			fmt.Sprintf("annotator%03d", i), RoleAnnotator, now())
		if err != nil {
			b.Fatal(err)
		}
		id, _ := res.LastInsertId()
		lb.annotators = append(lb.annotators, id)
	}
	rows := make([]sheet.Row, prompts)
	for i := range rows {
		rows[i] = sheet.Row{Line: i + 2, Text: fmt.Sprintf("Benchmark prompt %d", i), Split: "train"}
	}
	if _, err := st.ImportPrompts(ctx, rows, "bench", 0); err != nil {
		b.Fatal(err)
	}
	m, err := st.CreateModel(ctx, ModelInput{Name: "bench", Endpoint: "http://127.0.0.1:9/v1"})
	if err != nil {
		b.Fatal(err)
	}
	params := []Sampling{{Temperature: 0.2, TopP: 0.95, MaxTokens: 256}, {Temperature: 1, TopP: 0.95, MaxTokens: 256}}
	job, err := st.CreateJob(ctx, NewJob{ModelID: m.ID, Filter: PromptFilter{Query: "Benchmark"}, Params: params})
	if err != nil {
		b.Fatal(err)
	}
	tasks, err := st.PendingTasks(ctx, job)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tasks {
		if err := st.SaveResponse(ctx, Response{PromptID: t.PromptID, ModelID: m.ID, JobID: job.ID, Slot: t.Slot,
			Params: params[t.Slot], Text: "answer"}); err != nil {
			b.Fatal(err)
		}
	}
	for _, t := range tasks {
		if t.Slot != 0 {
			continue
		}
		it := Item{JobID: job.ID, PromptID: t.PromptID}
		ids, err := st.ItemAnswerIDs(ctx, it)
		if err != nil || len(ids) != 2 {
			b.Fatalf("answers of %v: %v, %v", it, ids, err)
		}
		lb.items = append(lb.items, it)
		lb.answers = append(lb.answers, [2]int64{ids[0], ids[1]})
	}
	return lb
}

// label is annotator u's i-th submission, as bench/labels posts it: a pair with its two-answer
// ranking, best and worst alternating.
func (lb *labelBench) label(u, i int) LabelInput {
	k := (u*7 + i) % len(lb.items)
	best, worst := lb.answers[k][0], lb.answers[k][1]
	if i%2 == 1 {
		best, worst = worst, best
	}
	return LabelInput{Item: lb.items[k], AnnotatorID: lb.annotators[u], Verdict: VerdictPair,
		ChosenID: best, RejectedID: worst, Ranking: []int64{best, worst}, MSSpent: 4200}
}

// BenchmarkSubmitLabelConcurrent measures the label writer as the server runs it at saturation:
// 200 annotators submit at once (so labels are committed in batches), new labels and changed ones
// mixed. The figure is the time per label of the whole store, writer and hand-over included.
func BenchmarkSubmitLabelConcurrent(b *testing.B) {
	lb := newLabelBench(b, 200, 1000)
	var next atomic.Int64
	b.ResetTimer()
	cpu0 := processCPU()
	var wg sync.WaitGroup
	for u := range lb.annotators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				if err := lb.st.SubmitLabel(b.Context(), lb.label(u, i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/label")
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkItemAfter measures the next-comparison query a label submission runs, with half of the
// annotator's queue labelled, under a context that can be cancelled as a request's can; one op is
// 100 queries.
func BenchmarkItemAfter(b *testing.B) {
	lb := newLabelBench(b, 2, 1000)
	ctx := b.Context()
	for i := 0; i < len(lb.items); i += 2 {
		if err := lb.st.SubmitLabel(ctx, LabelInput{Item: lb.items[i], AnnotatorID: lb.annotators[1], Verdict: VerdictSkip}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		for _, it := range lb.items[:100] {
			if _, _, err := lb.st.ItemAfter(ctx, lb.annotators[0], it); err != nil {
				b.Fatal(err)
			}
		}
	}
}
