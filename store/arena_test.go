package store

import (
	"errors"
	"strings"
	"testing"
)

// arenaFixture is a voter and a battle of v1 against v2.
func arenaFixture(t *testing.T) (*Store, User, ArenaBattle) {
	t.Helper()
	st := openTest(t)
	u, err := st.CreateUser(t.Context(), "ada", "password123", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateArenaBattle(t.Context(), ArenaBattleInput{UserID: u.ID, Question: "  What is a borrow?  ", Models: [2]string{"v1", "v2+rag"}})
	if err != nil {
		t.Fatal(err)
	}
	return st, u, b
}

func answerBoth(t *testing.T, st *Store, id int64) {
	t.Helper()
	for side, text := range []string{"A borrow is a reference.", "It lends a value."} {
		if err := st.AnswerArena(t.Context(), id, side, ArenaAnswer{Text: text, Finish: "stop", Tokens: 5}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestArenaBattleLifecycle(t *testing.T) {
	st, u, b := arenaFixture(t)
	ctx := t.Context()
	if b.Question != "What is a borrow?" || b.Category != ArenaOpenCategory || b.Models != [2]string{"v1", "v2+rag"} || b.Done[0] || b.Ready() {
		t.Fatalf("new battle %+v", b)
	}
	vote := ArenaVoteInput{BattleID: b.ID, UserID: u.ID, Vote: ArenaVoteA, DailyCap: 10}
	// One answer is not enough to vote.
	if err := st.AnswerArena(ctx, b.ID, 0, ArenaAnswer{Text: "A borrow is a reference.", Finish: "stop", Tokens: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.VoteArena(ctx, vote); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "both answers") {
		t.Fatalf("vote before both answers: %v", err)
	}
	if err := st.AnswerArena(ctx, b.ID, 0, ArenaAnswer{Text: "again"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second answer of side A: %v", err)
	}
	if err := st.AnswerArena(ctx, b.ID, 1, ArenaAnswer{Text: "It lends a value.", Finish: "length", Tokens: 7}); err != nil {
		t.Fatal(err)
	}
	got, err := st.UserArenaBattle(ctx, u.ID, b.ID)
	if err != nil || !got.Ready() || got.Answers != [2]string{"A borrow is a reference.", "It lends a value."} || got.Finish[1] != "length" || got.Tokens[1] != 7 {
		t.Fatalf("answered battle %+v, %v", got, err)
	}
	// Another user neither sees nor votes on it.
	other, _ := st.CreateUser(ctx, "bob", "password123", RoleAdmin)
	if _, err := st.UserArenaBattle(ctx, other.ID, b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another user reads the battle: %v", err)
	}
	if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: b.ID, UserID: other.ID, Vote: ArenaVoteB}); !errors.Is(err, ErrNotFound) {
		t.Errorf("another user votes: %v", err)
	}
	if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: b.ID, UserID: u.ID, Vote: "maybe"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown vote: %v", err)
	}
	voted, err := st.VoteArena(ctx, vote)
	if err != nil || voted.Vote != ArenaVoteA || voted.VotedAt.IsZero() {
		t.Fatalf("vote: %+v, %v", voted, err)
	}
	// One vote per battle and voter.
	if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: b.ID, UserID: u.ID, Vote: ArenaVoteB, DailyCap: 10}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second vote: %v", err)
	}
	votes, err := st.ArenaVotes(ctx, "")
	if err != nil || len(votes) != 1 || votes[0] != (ArenaVote{ModelA: "v1", ModelB: "v2+rag", Vote: ArenaVoteA, Category: ArenaOpenCategory}) {
		t.Fatalf("votes %+v, %v", votes, err)
	}
}

func TestArenaFailedAnswerCannotBeVoted(t *testing.T) {
	st, u, b := arenaFixture(t)
	st.AnswerArena(t.Context(), b.ID, 0, ArenaAnswer{Text: "ok", Finish: "stop"})
	st.AnswerArena(t.Context(), b.ID, 1, ArenaAnswer{Finish: ArenaFinishFailed})
	_, err := st.VoteArena(t.Context(), ArenaVoteInput{BattleID: b.ID, UserID: u.ID, Vote: ArenaVoteTie})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("vote on a failed battle: %v", err)
	}
}

func TestArenaDailyCapAndDroppedVotes(t *testing.T) {
	st, u, _ := arenaFixture(t)
	ctx := t.Context()
	if c, _ := st.ArenaDailyCap(ctx); c != DefaultArenaDailyCap {
		t.Fatalf("default cap %d", c)
	}
	st.SetSetting(ctx, SettingArenaDailyCap, "2")
	if c, _ := st.ArenaDailyCap(ctx); c != 2 {
		t.Fatalf("cap %d, want 2", c)
	}
	for i, dropped := range []string{"", "answer B names v1"} {
		b, err := st.CreateArenaBattle(ctx, ArenaBattleInput{UserID: u.ID, Question: "q", Category: "ownership", Models: [2]string{"v1", "v2"}})
		if err != nil {
			t.Fatal(err)
		}
		answerBoth(t, st, b.ID)
		if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: b.ID, UserID: u.ID, Vote: ArenaVoteBothBad, Dropped: dropped, DailyCap: 2}); err != nil {
			t.Fatalf("vote %d: %v", i, err)
		}
	}
	if err := st.CheckArenaCap(ctx, u.ID, 2); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "daily cap") {
		t.Fatalf("at the cap: %v", err)
	}
	b, _ := st.CreateArenaBattle(ctx, ArenaBattleInput{UserID: u.ID, Question: "q", Models: [2]string{"v1", "v2"}})
	answerBoth(t, st, b.ID)
	if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: b.ID, UserID: u.ID, Vote: ArenaVoteA, DailyCap: 2}); !errors.Is(err, ErrConflict) {
		t.Fatalf("vote over the cap: %v", err)
	}
	if n, _ := st.ArenaVotesToday(ctx, u.ID); n != 2 {
		t.Errorf("%d votes today, want 2", n)
	}
	votes, _ := st.ArenaVotes(ctx, "ownership")
	if len(votes) != 1 || votes[0].Vote != ArenaVoteBothBad {
		t.Errorf("counted ownership votes %+v, want the one not dropped", votes)
	}
	if v, _ := st.ArenaVotes(ctx, "open"); len(v) != 0 {
		t.Errorf("open votes %+v", v)
	}
	if cats, _ := st.ArenaCategories(ctx); len(cats) != 1 || cats[0] != "ownership" {
		t.Errorf("categories %v", cats)
	}
	if n, _ := st.ArenaDroppedCount(ctx); n != 1 {
		t.Errorf("%d dropped, want 1", n)
	}
}

func TestArenaRefusesBadBattles(t *testing.T) {
	st, u, b := arenaFixture(t)
	ctx := t.Context()
	for _, in := range []ArenaBattleInput{
		{UserID: u.ID, Question: "q", Models: [2]string{"v1", "v1"}},
		{UserID: u.ID, Question: "q", Models: [2]string{"", "v1"}},
		{UserID: u.ID, Question: " ", Models: [2]string{"v1", "v2"}},
		{UserID: u.ID, Question: "q", PromptID: 999, Models: [2]string{"v1", "v2"}},
	} {
		if _, err := st.CreateArenaBattle(ctx, in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", in, err)
		}
	}
	if err := st.AnswerArena(ctx, b.ID, 2, ArenaAnswer{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("side 2: %v", err)
	}
	if err := st.AnswerArena(ctx, b.ID+100, 0, ArenaAnswer{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing battle: %v", err)
	}
}

func TestRandomHeldoutPrompt(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	if _, err := st.RandomHeldoutPrompt(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no prompts: %v", err)
	}
	st.CreatePrompt(ctx, PromptInput{Text: "train only"}, 0)
	p, err := st.CreatePrompt(ctx, PromptInput{Text: "Explain E0382", Category: "errors", Split: SplitHeldout}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		got, err := st.RandomHeldoutPrompt(ctx)
		if err != nil || got.ID != p.ID || got.Category != "errors" {
			t.Fatalf("sampled %+v, %v; want the held-out prompt", got, err)
		}
	}
}
