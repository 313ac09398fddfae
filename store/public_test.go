package store

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestVisitorsOwnRowsThatNobodyLogsInAs(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	if _, err := st.VisitorUser(ctx, "tok-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown visitor: err = %v, want ErrNotFound", err)
	}
	a, err := st.CreateVisitor(ctx, "tok-a", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.CreateVisitor(ctx, "tok-a", "192.0.2.9")
	if err != nil || again != a {
		t.Fatalf("second CreateVisitor of one token = %d, %v; want %d", again, err, a)
	}
	if got, err := st.VisitorUser(ctx, "tok-a"); err != nil || got != a {
		t.Fatalf("VisitorUser = %d, %v; want %d", got, err, a)
	}
	b, err := st.CreateVisitor(ctx, "tok-b", "192.0.2.1")
	if err != nil || b == a {
		t.Fatalf("second visitor = %d, %v", b, err)
	}
	if _, err := st.CreateVisitor(ctx, " ", "192.0.2.1"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty token: err = %v, want ErrInvalid", err)
	}
	// Visitors keep the first-run setup open and stay off the user list.
	if n, err := st.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers with two visitors = %d, %v; want 0", n, err)
	}
	if _, err := st.CreateUser(ctx, "ada", "password123", RoleAdmin); err != nil {
		t.Fatal(err)
	}
	users, err := st.ListUsers(ctx)
	if err != nil || len(users) != 1 || users[0].Name != "ada" {
		t.Fatalf("ListUsers = %+v, %v; want ada only", users, err)
	}
	var name string
	st.read.QueryRow(`SELECT name FROM users WHERE id = ?`, a).Scan(&name)
	if _, err := st.Authenticate(ctx, name, ""); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("logging in as visitor %q: err = %v, want ErrUnauthorized", name, err)
	}
	if _, err := st.Authenticate(ctx, name, visitorPasswordHash); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("logging in as visitor %q with the marker: err = %v, want ErrUnauthorized", name, err)
	}
}

func TestVisitorArenaCapCountsEveryVisitorOfAnAddress(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	a, _ := st.CreateVisitor(ctx, "tok-a", "192.0.2.1")
	b, _ := st.CreateVisitor(ctx, "tok-b", "192.0.2.1")
	other, _ := st.CreateVisitor(ctx, "tok-c", "198.51.100.7")
	for _, user := range []int64{a, b, other} {
		battle, err := st.CreateArenaBattle(ctx, ArenaBattleInput{UserID: user, Question: "why?", Models: [2]string{"x", "y"}})
		if err != nil {
			t.Fatal(err)
		}
		for side := range 2 {
			if err := st.AnswerArena(ctx, battle.ID, side, ArenaAnswer{Text: "because", Finish: "stop"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: battle.ID, UserID: user, Vote: ArenaVoteTie, DailyCap: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.VisitorArenaVotesToday(ctx, "192.0.2.1"); err != nil || n != 2 {
		t.Fatalf("votes of 192.0.2.1 = %d, %v; want 2", n, err)
	}
	if err := st.CheckVisitorArenaCap(ctx, "192.0.2.1", 2); !errors.Is(err, ErrConflict) {
		t.Fatalf("two votes under a cap of 2: err = %v, want ErrConflict", err)
	}
	if err := st.CheckVisitorArenaCap(ctx, "198.51.100.7", 2); err != nil {
		t.Fatalf("another address: err = %v", err)
	}
}

func TestModelOriginsNameRunAndDataset(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	base, ds := runFixture(t, st)
	r := createRun(t, st, RunInput{Kind: RunDPO, ParentID: base, DatasetID: ds})
	if _, _, err := st.ClaimRun(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	in := ModelInput{Name: "v2", Provider: ProviderBuiltin, Base: "/models/base.gguf", Adapter: "/runs/1/output", ParentID: base}
	if err := st.FinishRun(ctx, r.ID, RunEnd{Status: RunDone, Model: &in}); err != nil {
		t.Fatal(err)
	}
	v2, err := st.ModelByName(ctx, "v2")
	if err != nil {
		t.Fatal(err)
	}
	origins, err := st.ModelOrigins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := ModelOrigin{RunID: r.ID, RunKind: RunDPO, DatasetID: ds, DatasetKind: "sft", DatasetRows: 3}
	if got := origins[v2.ID]; got != want {
		t.Errorf("origin of v2 = %+v, want %+v", got, want)
	}
	if got := origins[base]; got != (ModelOrigin{}) {
		t.Errorf("origin of base = %+v, want none", got)
	}
}

// visitorFixture is a visitor whose row was made at created, with a chat (question, answer and
// its compiler check) and a voted arena battle.
func visitorFixture(t *testing.T, st *Store, token string, created time.Time, model Model) (user, chat, battle int64) {
	t.Helper()
	ctx := t.Context()
	user, err := st.CreateVisitor(ctx, token, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.write.ExecContext(ctx, `UPDATE visitors SET created_at = ? WHERE user_id = ?`, formatTime(created), user); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateChat(ctx, user, "question of "+token, []int64{model.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AnswerChat(ctx, c.ID, 0, 1, ChatAnswer{Content: "answer to " + token, FinishReason: "stop", Tokens: 3}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveChatCheck(ctx, c.ID, 2, "answer to "+token, Check{CodeHash: "h-" + token, HasCode: true, Compiles: true, Lints: -1}); err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateArenaBattle(ctx, ArenaBattleInput{UserID: user, Question: "which of " + token + "?", Models: [2]string{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	for side := range 2 {
		if err := st.AnswerArena(ctx, b.ID, side, ArenaAnswer{Text: "side " + fmt.Sprint(side), Finish: "stop"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: b.ID, UserID: user, Vote: ArenaVoteA, DailyCap: 100}); err != nil {
		t.Fatal(err)
	}
	return user, c.ID, b.ID
}

// countRows counts the rows of table matching where.
func countRows(t *testing.T, st *Store, table, where string, args ...any) int {
	t.Helper()
	var n int
	if err := st.read.QueryRow(`SELECT count(*) FROM `+table+` WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// allBattles reads every arena battle, votes included, in id order.
func allBattles(t *testing.T, st *Store) []ArenaBattle {
	t.Helper()
	battles, err := queryAll(t.Context(), st.read, scanArenaBattle, `SELECT `+arenaColumns+` FROM arena_battles ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	return battles
}

func TestPruneVisitorsDeletesExpiredChatsAndKeepsVotes(t *testing.T) {
	st, _, models := chatFixture(t)
	ctx := t.Context()
	cutoff := time.Now().Add(-VisitorTTL)
	oldUser, oldChat, _ := visitorFixture(t, st, "tok-old", cutoff.Add(-24*time.Hour), models[0])
	olderUser, _, _ := visitorFixture(t, st, "tok-older", cutoff.Add(-10*24*time.Hour), models[1])
	newUser, newChat, _ := visitorFixture(t, st, "tok-new", cutoff.Add(time.Hour), models[0])
	if _, err := st.CreateShare(ctx, ShareInput{Kind: ShareChat, Target: fmt.Sprint(oldChat), CreatedBy: oldUser}); err != nil {
		t.Fatal(err)
	}
	votesBefore, err := st.ArenaVotes(ctx, "")
	if err != nil || len(votesBefore) != 3 {
		t.Fatalf("votes before = %d, %v; want 3", len(votesBefore), err)
	}
	battlesBefore := allBattles(t, st)

	got, err := st.PruneVisitors(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if want := (VisitorPrune{Visitors: 2, Chats: 2}); got != want {
		t.Fatalf("PruneVisitors = %+v, want %+v", got, want)
	}
	for _, u := range []int64{oldUser, olderUser} {
		if n := countRows(t, st, "chats", "user_id = ?", u); n != 0 {
			t.Errorf("expired visitor %d keeps %d chats", u, n)
		}
		if n := countRows(t, st, "visitors", "user_id = ? AND (token_hash <> 'expired ' || user_id OR ip <> '')", u); n != 0 {
			t.Errorf("expired visitor %d keeps its token hash or address", u)
		}
		if n := countRows(t, st, "users", "id = ?", u); n != 1 {
			t.Errorf("expired visitor %d lost its users row (its votes would go with it)", u)
		}
	}
	if n := countRows(t, st, "visitors", "token_hash IN (?, ?)", hashToken("tok-old"), hashToken("tok-older")); n != 0 {
		t.Errorf("%d visitors rows keep the expired tokens' hashes", n)
	}
	// Their users rows stay visitors': the first-run setup stays open and the user list holds people only.
	if n, err := st.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers after the prune = %d, %v; want 1 (ada)", n, err)
	}
	if users, err := st.ListUsers(ctx); err != nil || len(users) != 1 || users[0].Name != "ada" {
		t.Errorf("ListUsers after the prune = %+v, %v; want ada only", users, err)
	}
	// Turns and checks hang off the chats; only the recent visitor's are left.
	if n := countRows(t, st, "chat_turns", "chat_id <> ?", newChat); n != 0 {
		t.Errorf("%d turns of pruned chats left", n)
	}
	if n := countRows(t, st, "chat_checks", "chat_id <> ?", newChat); n != 0 {
		t.Errorf("%d checks of pruned chats left", n)
	}
	if n := countRows(t, st, "shares", "kind = 'chat' AND target = ?", fmt.Sprint(oldChat)); n != 0 {
		t.Errorf("the share link of pruned chat %d is left", oldChat)
	}
	// The recent visitor is untouched.
	if id, err := st.VisitorUser(ctx, "tok-new"); err != nil || id != newUser {
		t.Errorf("recent visitor = %d, %v; want %d", id, err, newUser)
	}
	if turns, err := st.ChatTurns(ctx, newChat); err != nil || len(turns) != 2 {
		t.Errorf("recent visitor's chat has %d turns, %v; want 2", len(turns), err)
	}
	if n := countRows(t, st, "chat_checks", "chat_id = ?", newChat); n != 1 {
		t.Errorf("recent visitor's chat has %d checks, want 1", n)
	}
	// Battles and votes are those of before: the leaderboard does not change.
	if after := allBattles(t, st); !reflect.DeepEqual(after, battlesBefore) {
		t.Errorf("battles changed:\nbefore %+v\nafter  %+v", battlesBefore, after)
	}
	if after, err := st.ArenaVotes(ctx, ""); err != nil || !reflect.DeepEqual(after, votesBefore) {
		t.Errorf("votes after = %+v, %v; want %+v", after, err, votesBefore)
	}

	if again, err := st.PruneVisitors(ctx, cutoff); err != nil || again != (VisitorPrune{}) {
		t.Errorf("second prune = %+v, %v; want nothing", again, err)
	}
	// The pruned token is nobody's now: presented again, it is a new visitor.
	if _, err := st.VisitorUser(ctx, "tok-old"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned visitor's token: err = %v, want ErrNotFound", err)
	}
	again, err := st.CreateVisitor(ctx, "tok-old", "192.0.2.1")
	if err != nil || again == oldUser {
		t.Errorf("pruned token's new visitor = %d, %v; want a new users row, not %d", again, err, oldUser)
	}
}

func TestPruneVisitorsGoesThroughEveryBatch(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	old := formatTime(time.Now().Add(-VisitorTTL - time.Hour))
	n := pruneVisitorBatch*2 + 7
	err := st.inTx(ctx, func(tx *sql.Tx) error {
		for i := range n {
			res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
				fmt.Sprintf("<visitor %d>", i), visitorPasswordHash, RoleViewer, old)
			if err != nil {
				return err
			}
			id, _ := res.LastInsertId()
			if _, err := tx.ExecContext(ctx, `INSERT INTO visitors (user_id, token_hash, ip, created_at) VALUES (?, ?, ?, ?)`,
				id, hashToken(fmt.Sprint("tok-", i)), "192.0.2.1", old); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.PruneVisitors(ctx, time.Now().Add(-VisitorTTL))
	if err != nil || got != (VisitorPrune{Visitors: n}) {
		t.Fatalf("PruneVisitors = %+v, %v; want %d visitors", got, err, n)
	}
	if left := countRows(t, st, "visitors", "token_hash NOT LIKE 'expired %'"); left != 0 {
		t.Errorf("%d visitors keep their tokens", left)
	}
	if again, err := st.PruneVisitors(ctx, time.Now()); err != nil || again != (VisitorPrune{}) {
		t.Errorf("second prune = %+v, %v; want nothing", again, err)
	}
}
