package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// chatFixture is a user and two registered models.
func chatFixture(t *testing.T) (*Store, User, []Model) {
	t.Helper()
	st := openTest(t)
	u, err := st.CreateUser(t.Context(), "ada", "password123", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	var models []Model
	for _, name := range []string{"v1", "v2"} {
		m, err := st.CreateModel(t.Context(), ModelInput{Name: name, Endpoint: "http://127.0.0.1:1/v1"})
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	return st, u, models
}

// columnText lists a column's turns as "role:content" in order.
func columnText(turns []ChatTurn, col int) []string {
	var out []string
	for _, tr := range turns {
		if tr.Column == col {
			out = append(out, tr.Role+":"+tr.Content)
		}
	}
	return out
}

func TestChatTurnsKeepEachColumnsConversation(t *testing.T) {
	st, u, models := chatFixture(t)
	ctx := t.Context()
	c, err := st.CreateChat(ctx, u.ID, "  How do I borrow twice?\nSecond line  ", []int64{models[0].ID, models[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != "How do I borrow twice?" || c.UserID != u.ID || c.ShareToken != "" {
		t.Fatalf("chat %+v", c)
	}
	// Column 1 answers first; answers land in their own column whatever the order.
	if _, err := st.AnswerChat(ctx, c.ID, 1, 2, ChatAnswer{Content: "B1", FinishReason: "stop", Tokens: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AnswerChat(ctx, c.ID, 0, 1, ChatAnswer{Content: "A1", FinishReason: "length", Tokens: 5}); err != nil {
		t.Fatal(err)
	}
	if err := st.AskChat(ctx, c.ID, "And with RefCell?"); err != nil {
		t.Fatal(err)
	}
	turns, err := st.ChatTurns(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want0 := []string{"user:How do I borrow twice?\nSecond line", "assistant:A1", "user:And with RefCell?"}
	want1 := []string{"user:How do I borrow twice?\nSecond line", "assistant:B1", "user:And with RefCell?"}
	if got := columnText(turns, 0); fmt.Sprint(got) != fmt.Sprint(want0) {
		t.Errorf("column 0 = %q, want %q", got, want0)
	}
	if got := columnText(turns, 1); fmt.Sprint(got) != fmt.Sprint(want1) {
		t.Errorf("column 1 = %q, want %q", got, want1)
	}
	for _, tr := range turns {
		want := models[tr.Column]
		if tr.ModelID != want.ID || tr.ModelName != want.Name {
			t.Errorf("turn %d of column %d has model %d %q, want %s", tr.Seq, tr.Column, tr.ModelID, tr.ModelName, want.Name)
		}
		if tr.Content == "A1" && (tr.FinishReason != "length" || tr.Tokens != 5) {
			t.Errorf("answer stored as %+v", tr)
		}
	}
	// An answer to the old question is refused once the column has a newer one.
	if _, err := st.AnswerChat(ctx, c.ID, 0, 1, ChatAnswer{Content: "late"}); !errors.Is(err, ErrConflict) {
		t.Errorf("late answer: %v, want ErrConflict", err)
	}
	if _, err := st.AnswerChat(ctx, c.ID, 0, 3, ChatAnswer{Content: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("answer to a turn of another column: %v, want ErrNotFound", err)
	}
}

func TestChatAnswerIsReplacedAndDropped(t *testing.T) {
	st, u, models := chatFixture(t)
	ctx := t.Context()
	c, err := st.CreateChat(ctx, u.ID, "q", []int64{models[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"partial", "full"} {
		if _, err := st.AnswerChat(ctx, c.ID, 0, 1, ChatAnswer{Content: text}); err != nil {
			t.Fatal(err)
		}
	}
	turns, _ := st.ChatTurns(ctx, c.ID)
	if got := columnText(turns, 0); fmt.Sprint(got) != fmt.Sprint([]string{"user:q", "assistant:full"}) {
		t.Fatalf("after a second answer: %q", got)
	}
	for range 2 { // dropping twice leaves the question alone
		if err := st.DropChatAnswer(ctx, c.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	turns, _ = st.ChatTurns(ctx, c.ID)
	if got := columnText(turns, 0); fmt.Sprint(got) != fmt.Sprint([]string{"user:q"}) {
		t.Fatalf("after dropping: %q", got)
	}
}

func TestChatRefusesBadInput(t *testing.T) {
	st, u, models := chatFixture(t)
	ctx := t.Context()
	cases := map[string]struct {
		question string
		models   []int64
	}{
		"empty question": {"  \n ", []int64{models[0].ID}},
		"long question":  {strings.Repeat("x", MaxChatQuestionBytes+1), []int64{models[0].ID}},
		"no columns":     {"q", nil},
		"four columns":   {"q", []int64{models[0].ID, models[0].ID, models[1].ID, models[1].ID}},
		"unknown model":  {"q", []int64{models[0].ID, 999}},
		"invalid UTF-8":  {"q\xff", []int64{models[0].ID}},
	}
	for name, tc := range cases {
		if _, err := st.CreateChat(ctx, u.ID, tc.question, tc.models); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if chats, _ := st.ListChats(ctx, u.ID, 10); len(chats) != 0 {
		t.Errorf("a refused chat was stored: %+v", chats)
	}
	if err := st.AskChat(ctx, 12345, "q"); !errors.Is(err, ErrNotFound) {
		t.Errorf("question to a missing chat: %v, want ErrNotFound", err)
	}
}

func TestChatOwnerAndShareToken(t *testing.T) {
	st, u, models := chatFixture(t)
	ctx := t.Context()
	other, err := st.CreateUser(ctx, "bob", "password123", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateChat(ctx, u.ID, "q", []int64{models[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserChat(ctx, other.ID, c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another user's chat: %v, want ErrNotFound", err)
	}
	if got, err := st.UserChat(ctx, u.ID, c.ID); err != nil || got.ID != c.ID {
		t.Errorf("own chat: %+v, %v", got, err)
	}
	if _, err := st.ChatByShareToken(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty token: %v, want ErrNotFound", err)
	}
	token, err := st.ShareChat(ctx, c.ID)
	if err != nil || len(token) < 32 {
		t.Fatalf("share: %q, %v", token, err)
	}
	again, err := st.ShareChat(ctx, c.ID)
	if err != nil || again != token {
		t.Errorf("sharing again gave %q, want the same %q", again, token)
	}
	if got, err := st.ChatByShareToken(ctx, token); err != nil || got.ID != c.ID || got.ShareToken != token {
		t.Errorf("by token: %+v, %v", got, err)
	}
	if _, err := st.ChatByShareToken(ctx, token+"x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("wrong token: %v, want ErrNotFound", err)
	}
	if _, err := st.ShareChat(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("sharing a missing chat: %v, want ErrNotFound", err)
	}
	second, _ := st.CreateChat(ctx, u.ID, "second", []int64{models[1].ID})
	chats, err := st.ListChats(ctx, u.ID, 10)
	if err != nil || len(chats) != 2 || chats[0].ID != second.ID {
		t.Errorf("list: %+v, %v", chats, err)
	}
}
