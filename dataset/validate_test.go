package dataset

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// lines joins hand-written rows into a JSONL file.
func lines(rows ...string) string {
	return strings.Join(rows, "\n") + "\n"
}

func problemStrings(report Report) []string {
	out := make([]string, len(report.Problems))
	for i, p := range report.Problems {
		out[i] = p.String()
	}
	return out
}

func validateString(t *testing.T, file string, opt ValidateOptions) Report {
	t.Helper()
	report, err := Validate(strings.NewReader(file), opt)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return report
}

// Hand-written rows used by the cases below.
const (
	plainRow = `{"prompt":"p1","chosen":"good","rejected":"bad"}`
	convRow  = `{"prompt":[{"role":"user","content":"p2"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}`
	sftRow   = `{"messages":[{"role":"user","content":"p3"},{"role":"assistant","content":"a3"}]}`
)

func TestValidateProblems(t *testing.T) {
	heldoutID := PromptID("secret prompt")
	tests := []struct {
		name string
		file string
		opt  ValidateOptions
		want []string
	}{
		{
			name: "empty file",
			file: "",
			want: []string{"file has no rows"},
		},
		{
			name: "blank lines only",
			file: "\n  \n",
			want: []string{"line 1: blank line", "line 2: blank line", "file has no rows"},
		},
		{
			name: "bad JSON, non-object, bad UTF-8, blank line",
			file: lines(plainRow, `{"prompt": "x",`, `["prompt"]`, "", "{\"prompt\":\"\xff\"}", `{"prompt":"p"} trailing`),
			want: []string{
				"line 2: invalid JSON: unexpected end of JSON input",
				"line 3: not a JSON object",
				"line 4: blank line",
				"line 5: not valid UTF-8",
				"line 6: invalid JSON: invalid character 't' after top-level value",
			},
		},
		{
			name: "DPO plain prompt problems",
			file: lines(
				`{"chosen":"a","rejected":"b"}`,
				`{"prompt":7,"chosen":"a","rejected":"b"}`,
				`{"prompt":"  ","chosen":"a","rejected":"b"}`,
				`{"prompt":"q4","rejected":"b"}`,
				`{"prompt":"q5","chosen":"","rejected":null}`,
			),
			opt: ValidateOptions{Kind: KindDPO},
			want: []string{
				`line 1, field "prompt": missing`,
				`line 2, field "prompt": must be a string or a list of messages, got a number`,
				`line 3, field "prompt": empty prompt`,
				`line 4, field "chosen": missing`,
				`line 5, field "chosen": empty answer`,
				`line 5, field "rejected": must be a string or a list of messages, got null`,
			},
		},
		{
			name: "DPO conversational prompt problems",
			file: lines(
				`{"prompt":[],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}`,
				`{"prompt":[{"role":"bot","content":"q"},{"role":"user","content":5},"hi"],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}`,
				`{"prompt":[{"role":"user","content":"q"},{"role":"assistant","content":""}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}`,
			),
			want: []string{
				`line 1, field "prompt": empty message list`,
				`line 2, field "prompt[0].role": must be user, system or assistant, got "bot"`,
				`line 2, field "prompt[1].content": must be a string, got a number`,
				`line 2, field "prompt[2]": must be a message object, got a string`,
				`line 3, field "prompt[1].content": empty content`,
				`line 3, field "prompt": last message must have role user, got "assistant"`,
			},
		},
		{
			name: "DPO conversational answer problems",
			file: lines(
				`{"prompt":[{"role":"user","content":"q2"}],"chosen":[{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}],"rejected":[{"role":"assistant","content":"b"}]}`,
				`{"prompt":[{"role":"user","content":"q3"}],"chosen":[{"role":"user","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}`,
				`{"prompt":[{"role":"user","content":"q4"}],"chosen":[{"role":"assistant","content":" "}],"rejected":[{"role":"assistant","content":"b"}]}`,
				`{"prompt":[{"role":"user","content":"q5"}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[]}`,
				`{"prompt":[{"role":"user","content":"q6"}],"chosen":[{"role":"assistant","content":"same"}],"rejected":[{"role":"assistant","content":"same"}]}`,
			),
			want: []string{
				`line 1, field "chosen": must hold exactly one message, the assistant reply; got 2`,
				`line 2, field "chosen[0].role": must be assistant, got "user"`,
				`line 3, field "chosen": empty answer`,
				`line 4, field "rejected": must hold exactly one message, the assistant reply; got 0`,
				`line 5, field "rejected": identical to chosen`,
			},
		},
		{
			name: "shapes mixed within a row and across rows",
			file: lines(
				convRow,
				`{"prompt":[{"role":"user","content":"q"}],"chosen":"good","rejected":[{"role":"assistant","content":"bad"}]}`,
				plainRow,
			),
			want: []string{
				`line 2, field "chosen": is plain but the prompt is conversational`,
				`line 3, field "prompt": is plain but line 1 is conversational`,
			},
		},
		{
			name: "prompt_id",
			file: lines(
				fmt.Sprintf(`{"prompt":"p1","chosen":"a","rejected":"b","prompt_id":%q}`, PromptID("p1")),
				fmt.Sprintf(`{"prompt":"p2","chosen":"a","rejected":"b","prompt_id":%q}`, PromptID("p1")),
				`{"prompt":"p3","chosen":"a","rejected":"b","prompt_id":3}`,
				fmt.Sprintf(`{"prompt":[{"role":"system","content":"s"},{"role":"user","content":"p4"}],"chosen":"a","rejected":"b","prompt_id":%q}`, PromptID("p4")),
			),
			want: []string{
				fmt.Sprintf(`line 2, field "prompt_id": is %q but the sha256 of the last user message is %s`, PromptID("p1"), PromptID("p2")),
				`line 3, field "prompt_id": must be a string, got a number`,
				`line 4, field "chosen": is plain but the prompt is conversational`,
				`line 4, field "rejected": is plain but the prompt is conversational`,
				`line 4, field "prompt": is conversational but line 1 is plain`,
			},
		},
		{
			name: "duplicates",
			file: lines(
				plainRow,
				`{"prompt":"p1","chosen":"good","rejected":"other"}`,
				`{"category":"x","prompt":"p1","rejected":"bad","chosen":"good"}`,
				plainRow,
			),
			want: []string{"line 3: duplicate of line 1", "line 4: duplicate of line 1"},
		},
		{
			name: "held-out prompt, whatever prompt_id says",
			file: lines(
				fmt.Sprintf(`{"prompt":"secret prompt","chosen":"a","rejected":"b","prompt_id":%q}`, PromptID("harmless")),
				fmt.Sprintf(`{"prompt":"harmless","chosen":"a","rejected":"b","prompt_id":%q}`, heldoutID),
			),
			opt: ValidateOptions{HeldoutPromptIDs: map[string]bool{strings.ToUpper(heldoutID): true}},
			want: []string{
				fmt.Sprintf(`line 1, field "prompt_id": is %q but the sha256 of the last user message is %s`, PromptID("harmless"), heldoutID),
				fmt.Sprintf(`line 1, field "prompt": prompt is held out (prompt_id %s)`, heldoutID),
				fmt.Sprintf(`line 2, field "prompt_id": is %q but the sha256 of the last user message is %s`, heldoutID, PromptID("harmless")),
			},
		},
		{
			name: "SFT problems",
			file: lines(
				sftRow,
				`{"messages":"hello"}`,
				`{"prompt":"p"}`,
				`{"messages":[{"role":"assistant","content":"a"}]}`,
				`{"messages":[{"role":"user","content":"q"}]}`,
				`{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"more"}]}`,
				`{"messages":[{"role":"user","content":""},{"role":"assistant","content":"a"}]}`,
				`{"messages":[{"role":"system","content":"s"},{"role":"user","content":"secret prompt"},{"role":"assistant","content":"a"}]}`,
				`{"messages":[{"role":"user","content":"p3"},{"role":"assistant","content":"a3"}],"model":"m"}`,
				`{"messages":[{"role":"user","content":"p9"},{"role":"tool","content":"a"}]}`,
				`{"messages":[]}`,
			),
			opt: ValidateOptions{HeldoutPromptIDs: map[string]bool{heldoutID: true}},
			want: []string{
				`line 2, field "messages": must be a list of messages, got a string`,
				`line 3, field "messages": missing`,
				`line 4, field "messages": needs at least one user message`,
				`line 5, field "messages": needs at least one assistant message`,
				`line 5, field "messages": last message must have role assistant, got "user"`,
				`line 6, field "messages": last message must have role assistant, got "user"`,
				`line 7, field "messages[0].content": empty content`,
				fmt.Sprintf(`line 8, field "messages": prompt is held out (prompt_id %s)`, heldoutID),
				"line 9: duplicate of line 1",
				`line 10, field "messages[1].role": must be user, system or assistant, got "tool"`,
				`line 11, field "messages": needs at least one user message`,
				`line 11, field "messages": needs at least one assistant message`,
			},
		},
		{
			name: "kind cannot be detected",
			file: lines(`{"text":"hello"}`, sftRow),
			want: []string{"line 1: cannot tell the dataset kind: no messages, prompt, chosen or rejected field"},
		},
		{
			name: "DPO rows checked as SFT",
			file: lines(plainRow),
			opt:  ValidateOptions{Kind: KindSFT},
			want: []string{`line 1, field "messages": missing`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemStrings(validateString(t, tt.file, tt.opt))
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateCleanFiles(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantKind string
		wantRows int
	}{
		{"plain DPO with extra fields, CRLF and no final newline", plainRow + "\r\n" + `{"prompt":"p2","chosen":"x","rejected":"y","score":0.5,"tags":["a"]}`, KindDPO, 2},
		{"conversational DPO with system turn", lines(convRow, `{"prompt":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"q2"}],"chosen":[{"role":"assistant","content":"x"}],"rejected":[{"role":"assistant","content":"y"}]}`), KindDPO, 2},
		{"SFT multi-turn", lines(sftRow, `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"q2"},{"role":"assistant","content":"a2"}]}`), KindSFT, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := validateString(t, tt.file, ValidateOptions{})
			if !report.OK() || report.Kind != tt.wantKind || report.Rows != tt.wantRows {
				t.Errorf("report = %+v, want clean %s with %d rows", report, tt.wantKind, tt.wantRows)
			}
		})
	}
}

func TestValidateLongLine(t *testing.T) {
	answer := strings.Repeat("let x = 1;\n", 200_000) // 2.2 MB, past bufio.Scanner's default limit
	row := fmt.Sprintf(`{"prompt":"p","chosen":%q,"rejected":"b"}`, answer)
	report := validateString(t, lines(row, plainRow), ValidateOptions{})
	if !report.OK() || report.Rows != 2 || report.Chosen.Max != len(answer) {
		t.Errorf("report = %+v", report.Problems)
	}
}

func TestValidateLengthStatsAndCategories(t *testing.T) {
	var rows []string
	for i := 1; i <= 20; i++ {
		// Prompt i has i runes ("é" is one rune, two bytes); chosen has 2i.
		rows = append(rows, fmt.Sprintf(`{"prompt":%q,"chosen":%q,"rejected":"r","category":%q}`,
			strings.Repeat("é", i), strings.Repeat("ab", i), []string{"ownership", "async"}[i%2]))
	}
	rows = append(rows, `not json`)
	report := validateString(t, lines(rows...), ValidateOptions{})
	if want := (LengthStats{Min: 1, Median: 10, P95: 19, Max: 20}); report.Prompt != want {
		t.Errorf("prompt stats = %+v, want %+v", report.Prompt, want)
	}
	if want := (LengthStats{Min: 2, Median: 20, P95: 38, Max: 40}); report.Chosen != want {
		t.Errorf("chosen stats = %+v, want %+v", report.Chosen, want)
	}
	if want := (LengthStats{Min: 1, Median: 1, P95: 1, Max: 1}); report.Rejected != want {
		t.Errorf("rejected stats = %+v, want %+v", report.Rejected, want)
	}
	if report.Categories["ownership"] != 10 || report.Categories["async"] != 10 || len(report.Categories) != 2 {
		t.Errorf("categories = %v", report.Categories)
	}
	if report.Rows != 21 || len(report.Problems) != 1 {
		t.Errorf("rows = %d, problems = %v", report.Rows, report.Problems)
	}
}

func TestValidateMaxProblems(t *testing.T) {
	file := lines("x", "x", "x", "x", "x")
	report := validateString(t, file, ValidateOptions{MaxProblems: 2})
	if len(report.Problems) != 2 || report.MoreProblems != 3 || report.OK() {
		t.Errorf("problems = %v, more = %d", report.Problems, report.MoreProblems)
	}
	var many []string
	for range 250 {
		many = append(many, "x")
	}
	report = validateString(t, lines(many...), ValidateOptions{})
	if len(report.Problems) != 200 || report.MoreProblems != 50 {
		t.Errorf("default cap: %d problems listed, %d more", len(report.Problems), report.MoreProblems)
	}
}

func TestValidateErrors(t *testing.T) {
	if _, err := Validate(strings.NewReader(plainRow), ValidateOptions{Kind: "kto"}); err == nil {
		t.Error("unknown kind accepted")
	}
	readErr := errors.New("connection reset")
	r := iotest.DataErrReader(iotest.TimeoutReader(strings.NewReader(lines(plainRow, plainRow))))
	_, err := Validate(iotest.ErrReader(readErr), ValidateOptions{})
	if !errors.Is(err, readErr) {
		t.Errorf("err = %v, want the reader's error", err)
	}
	if _, err := Validate(r, ValidateOptions{}); !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("err = %v, want timeout", err)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{Line: 4, Field: "chosen", Message: "empty answer"}, `line 4, field "chosen": empty answer`},
		{Problem{Line: 2, Message: "duplicate of line 1"}, "line 2: duplicate of line 1"},
		{Problem{Message: "file has no rows"}, "file has no rows"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
