package store

import (
	"errors"
	"testing"
)

func TestChatAnswerKeepsItsSamplingAndCheck(t *testing.T) {
	st, u, models := chatFixture(t)
	ctx := t.Context()
	c, err := st.CreateChat(ctx, u.ID, "Borrow twice?", []int64{models[0].ID, models[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	sampling := ChatSampling{Temperature: 0.3, TopP: 0.9, MaxTokens: 256}
	a, err := st.AnswerChat(ctx, c.ID, 0, 1, ChatAnswer{Content: "fn main() {}", FinishReason: "stop", Tokens: 4, Sampling: sampling})
	if err != nil {
		t.Fatal(err)
	}
	if a.Sampling != sampling || a.Check != nil {
		t.Fatalf("stored answer %+v", a)
	}
	check := Check{CodeHash: "h1", HasCode: true, Compiles: false, Errors: 1, Lints: -1, FirstError: "E0382: borrow of moved value"}
	if err := st.SaveChatCheck(ctx, c.ID, a.Seq, "another text", check); !errors.Is(err, ErrConflict) {
		t.Fatalf("check of another text: %v, want ErrConflict", err)
	}
	if err := st.SaveChatCheck(ctx, c.ID, 1, "Borrow twice?", check); !errors.Is(err, ErrConflict) {
		t.Fatalf("check of a question: %v, want ErrConflict", err)
	}
	if err := st.SaveChatCheck(ctx, c.ID, a.Seq, a.Content, check); err != nil {
		t.Fatal(err)
	}
	turns, err := st.ChatTurns(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := turns[len(turns)-1]
	if got.Seq != a.Seq || got.Check == nil || *got.Check != check || got.Sampling != sampling {
		t.Fatalf("turn %+v, check %+v", got, got.Check)
	}
	for _, tr := range turns[:len(turns)-1] {
		if tr.Check != nil || tr.Sampling.Recorded() {
			t.Errorf("question turn %d has a check or sampling: %+v", tr.Seq, tr)
		}
	}
	if found, err := st.CheckByCodeHash(ctx, "h1"); err != nil || found != check {
		t.Fatalf("by code hash: %+v, %v", found, err)
	}

	// A regenerated answer takes the same seq and has no check of the old text.
	if err := st.DropChatAnswer(ctx, c.ID, 0); err != nil {
		t.Fatal(err)
	}
	b, err := st.AnswerChat(ctx, c.ID, 0, 1, ChatAnswer{Content: "other", FinishReason: "stop", Tokens: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != a.Seq || b.Check != nil || b.Sampling.Recorded() {
		t.Fatalf("regenerated answer %+v (check %+v)", b, b.Check)
	}
	if _, err := st.CheckByCodeHash(ctx, "h1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the dropped answer's check is still found: %v", err)
	}
}

func TestArenaChecksBySide(t *testing.T) {
	st, u, _ := chatFixture(t)
	ctx := t.Context()
	b, err := st.CreateArenaBattle(ctx, ArenaBattleInput{UserID: u.ID, Question: "q", Models: [2]string{"v1", "v2"}})
	if err != nil {
		t.Fatal(err)
	}
	ok := Check{CodeHash: "h2", HasCode: true, Compiles: true, Lints: 2}
	prose := Check{Lints: -1}
	if err := st.SaveArenaCheck(ctx, b.ID, 1, ok); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveArenaCheck(ctx, b.ID, 0, prose); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveArenaCheck(ctx, b.ID, 2, ok); !errors.Is(err, ErrInvalid) {
		t.Errorf("side 2: %v, want ErrInvalid", err)
	}
	if err := st.SaveArenaCheck(ctx, b.ID+1, 0, ok); !errors.Is(err, ErrNotFound) {
		t.Errorf("no battle: %v, want ErrNotFound", err)
	}
	got, err := st.ArenaChecks(ctx, b.ID)
	if err != nil || len(got) != 2 || got[0] != prose || got[1] != ok {
		t.Fatalf("checks %+v, %v", got, err)
	}
	if found, err := st.CheckByCodeHash(ctx, "h2"); err != nil || found != ok {
		t.Fatalf("by code hash: %+v, %v", found, err)
	}
	// Prose has no code to reuse; a timed-out check is not an answer for the same code.
	timedOut := Check{CodeHash: "h3", HasCode: true, TimedOut: true, Lints: -1}
	if err := st.SaveArenaCheck(ctx, b.ID, 0, timedOut); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"", "h3"} {
		if _, err := st.CheckByCodeHash(ctx, h); !errors.Is(err, ErrNotFound) {
			t.Errorf("hash %q: %v, want ErrNotFound", h, err)
		}
	}
}
