package dataset

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Dataset kinds the validator knows.
const (
	KindDPO = "dpo"
	KindSFT = "sft"
)

// defaultMaxProblems keeps a report on a badly broken file readable.
const defaultMaxProblems = 200

// ValidateOptions says what to check a file against.
type ValidateOptions struct {
	// Kind is "dpo", "sft", or "" to detect it from the first row.
	Kind string
	// HeldoutPromptIDs holds the hex sha256 of every held-out prompt text.
	HeldoutPromptIDs map[string]bool
	// MaxProblems caps the listed problems (default 200); the rest are counted.
	MaxProblems int
}

// Problem is one issue found on one line. Line 0 means the file as a whole.
type Problem struct {
	Line    int
	Field   string
	Message string
}

// String renders the problem as `line 4, field "chosen": empty answer`.
func (p Problem) String() string {
	switch {
	case p.Line == 0:
		return p.Message
	case p.Field == "":
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	default:
		return fmt.Sprintf("line %d, field %q: %s", p.Line, p.Field, p.Message)
	}
}

// LengthStats summarises text lengths in characters (runes). Median is the
// lower median and P95 the nearest-rank 95th percentile.
type LengthStats struct {
	Min, Median, P95, Max int
}

// Report is the outcome of Validate.
type Report struct {
	Kind         string
	Rows         int // non-blank lines
	Problems     []Problem
	MoreProblems int // problems past MaxProblems, not listed
	// Prompt, Chosen and Rejected cover rows that parsed. For SFT rows Prompt is
	// every message before the last and Chosen the final assistant message.
	Prompt, Chosen, Rejected LengthStats
	// Categories counts rows by their "category" field, where it is a string.
	Categories map[string]int
}

// OK reports whether the file had no problems.
func (r Report) OK() bool {
	return len(r.Problems) == 0 && r.MoreProblems == 0
}

// validator holds the state of one Validate run.
type validator struct {
	opt        ValidateOptions
	heldout    map[string]bool
	report     Report
	shape      string // shape of the first DPO row
	shapeLine  int
	seen       map[[sha256.Size]byte]int // row content → first line
	promptLens []int
	chosenLens []int
	rejectLens []int
}

// Validate checks a DPO or SFT JSONL file. The error is only for reading
// failures and bad options; content issues are reported as Problems.
func Validate(r io.Reader, opt ValidateOptions) (Report, error) {
	if opt.Kind != "" && opt.Kind != KindDPO && opt.Kind != KindSFT {
		return Report{}, fmt.Errorf("validate: unknown kind %q (want dpo, sft or empty)", opt.Kind)
	}
	if opt.MaxProblems <= 0 {
		opt.MaxProblems = defaultMaxProblems
	}
	v := &validator{
		opt:     opt,
		heldout: lowerKeys(opt.HeldoutPromptIDs),
		report:  Report{Kind: opt.Kind, Categories: map[string]int{}},
		seen:    map[[sha256.Size]byte]int{},
	}
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			v.checkLine(lineNo, bytes.TrimRight(line, "\r\n"))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return v.report, fmt.Errorf("validate: read line %d: %w", lineNo, err)
		}
	}
	if v.report.Rows == 0 {
		v.problem(0, "", "file has no rows")
	}
	v.report.Prompt = lengthStats(v.promptLens)
	v.report.Chosen = lengthStats(v.chosenLens)
	v.report.Rejected = lengthStats(v.rejectLens)
	return v.report, nil
}

// lowerKeys copies the held-out set with lowercase hex, the form PromptID gives.
func lowerKeys(ids map[string]bool) map[string]bool {
	lower := make(map[string]bool, len(ids))
	for id, held := range ids {
		if held {
			lower[strings.ToLower(id)] = true
		}
	}
	return lower
}

func (v *validator) problem(line int, field, format string, args ...any) {
	if len(v.report.Problems) >= v.opt.MaxProblems {
		v.report.MoreProblems++
		return
	}
	v.report.Problems = append(v.report.Problems, Problem{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) checkLine(line int, text []byte) {
	if len(bytes.TrimSpace(text)) == 0 {
		v.problem(line, "", "blank line")
		return
	}
	v.report.Rows++
	if !utf8.Valid(text) {
		v.problem(line, "", "not valid UTF-8")
		return
	}
	var value any
	if err := json.Unmarshal(text, &value); err != nil {
		v.problem(line, "", "invalid JSON: %v", err)
		return
	}
	row, ok := value.(map[string]any)
	if !ok {
		v.problem(line, "", "not a JSON object")
		return
	}
	if category, ok := row["category"].(string); ok {
		v.report.Categories[category]++
	}
	if v.report.Kind == "" {
		v.report.Kind = detectKind(row)
	}
	switch v.report.Kind {
	case KindDPO:
		v.checkDPO(line, row)
	case KindSFT:
		v.checkSFT(line, row)
	default:
		v.problem(line, "", "cannot tell the dataset kind: no messages, prompt, chosen or rejected field")
	}
}

func detectKind(row map[string]any) string {
	if _, ok := row["messages"]; ok {
		return KindSFT
	}
	for _, field := range []string{"chosen", "rejected", "prompt"} {
		if _, ok := row[field]; ok {
			return KindDPO
		}
	}
	return ""
}

// turns is a decoded prompt, answer or message list. A plain string becomes a
// single message with the role its field implies.
type turns struct {
	plain    bool
	messages []Message
}

func (t turns) text() string {
	var b strings.Builder
	for _, m := range t.messages {
		b.WriteString(m.Content)
	}
	return b.String()
}

func (t turns) runes() int {
	n := 0
	for _, m := range t.messages {
		n += utf8.RuneCountInString(m.Content)
	}
	return n
}

// lastUser returns the content of the last user message.
func (t turns) lastUser() (string, bool) {
	for i := len(t.messages) - 1; i >= 0; i-- {
		if t.messages[i].Role == "user" {
			return t.messages[i].Content, true
		}
	}
	return "", false
}

func shapeName(plain bool) string {
	if plain {
		return ShapePlain
	}
	return ShapeConversational
}

// decodeTurns reads a field that may be a string (when plainRole is set) or a
// list of messages, reporting structural problems.
func (v *validator) decodeTurns(line int, row map[string]any, field, plainRole string) (turns, bool) {
	value, present := row[field]
	if !present {
		v.problem(line, field, "missing")
		return turns{}, false
	}
	switch value := value.(type) {
	case string:
		if plainRole == "" {
			v.problem(line, field, "must be a list of messages, got a string")
			return turns{}, false
		}
		return turns{plain: true, messages: []Message{{Role: plainRole, Content: value}}}, true
	case []any:
		return v.decodeMessages(line, field, value)
	default:
		v.problem(line, field, "must be a string or a list of messages, got %s", jsonType(value))
		return turns{}, false
	}
}

func (v *validator) decodeMessages(line int, field string, list []any) (turns, bool) {
	t := turns{messages: make([]Message, 0, len(list))}
	ok := true
	for i, item := range list {
		at := fmt.Sprintf("%s[%d]", field, i)
		msg, isObject := item.(map[string]any)
		if !isObject {
			v.problem(line, at, "must be a message object, got %s", jsonType(item))
			ok = false
			continue
		}
		role, roleOK := msg["role"].(string)
		if !roleOK || (role != "user" && role != "system" && role != "assistant") {
			v.problem(line, at+".role", "must be user, system or assistant, got %s", describe(msg["role"]))
			ok = false
		}
		content, contentOK := msg["content"].(string)
		if !contentOK {
			v.problem(line, at+".content", "must be a string, got %s", describe(msg["content"]))
			ok = false
		}
		t.messages = append(t.messages, Message{Role: role, Content: content})
	}
	return t, ok
}

// jsonType names the JSON type of a decoded value.
func jsonType(value any) string {
	switch value.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	default:
		return "an object"
	}
}

// describe shows a role or content value in a message: quoted when a string.
func describe(value any) string {
	if s, ok := value.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	if value == nil {
		return "nothing"
	}
	return jsonType(value)
}

func blank(s string) bool {
	return strings.TrimSpace(s) == ""
}

func (v *validator) checkDPO(line int, row map[string]any) {
	prompt, promptDecoded := v.decodeTurns(line, row, "prompt", "user")
	promptOK := false
	if promptDecoded {
		promptOK = v.checkPrompt(line, prompt)
		v.promptLens = append(v.promptLens, prompt.runes())
		v.checkPromptID(line, row, prompt)
		v.checkHeldout(line, "prompt", prompt)
	}
	chosen, chosenOK := v.decodeAnswer(line, row, "chosen")
	rejected, rejectedOK := v.decodeAnswer(line, row, "rejected")
	if chosenOK {
		v.chosenLens = append(v.chosenLens, chosen.runes())
	}
	if rejectedOK {
		v.rejectLens = append(v.rejectLens, rejected.runes())
	}
	if promptDecoded {
		v.checkShape(line, prompt, chosen, chosenOK, rejected, rejectedOK)
	}
	if chosenOK && rejectedOK && chosen.text() == rejected.text() {
		v.problem(line, "rejected", "identical to chosen")
	}
	if promptOK && chosenOK && rejectedOK {
		v.checkDuplicate(line, []any{prompt.plain, prompt.messages, chosen.messages, rejected.messages})
	}
}

// checkPrompt checks a decoded DPO prompt; it reports whether the prompt is usable.
func (v *validator) checkPrompt(line int, prompt turns) bool {
	if prompt.plain {
		if blank(prompt.messages[0].Content) {
			v.problem(line, "prompt", "empty prompt")
			return false
		}
		return true
	}
	if len(prompt.messages) == 0 {
		v.problem(line, "prompt", "empty message list")
		return false
	}
	ok := true
	for i, m := range prompt.messages {
		if blank(m.Content) {
			v.problem(line, fmt.Sprintf("prompt[%d].content", i), "empty content")
			ok = false
		}
	}
	if last := prompt.messages[len(prompt.messages)-1]; last.Role != "user" {
		v.problem(line, "prompt", "last message must have role user, got %q", last.Role)
		ok = false
	}
	return ok
}

// decodeAnswer reads chosen or rejected: a string, or a list holding exactly
// the assistant reply.
func (v *validator) decodeAnswer(line int, row map[string]any, field string) (turns, bool) {
	answer, ok := v.decodeTurns(line, row, field, "assistant")
	if !ok {
		return answer, false
	}
	if !answer.plain {
		if len(answer.messages) != 1 {
			v.problem(line, field, "must hold exactly one message, the assistant reply; got %d", len(answer.messages))
			return answer, false
		}
		if role := answer.messages[0].Role; role != "assistant" {
			v.problem(line, field+"[0].role", "must be assistant, got %q", role)
			return answer, false
		}
	}
	if blank(answer.messages[0].Content) {
		v.problem(line, field, "empty answer")
		return answer, false
	}
	return answer, true
}

// checkShape requires chosen and rejected to match the prompt's shape, and every
// row to match the first row's.
func (v *validator) checkShape(line int, prompt, chosen turns, chosenOK bool, rejected turns, rejectedOK bool) {
	for _, answer := range []struct {
		field string
		turns turns
		ok    bool
	}{{"chosen", chosen, chosenOK}, {"rejected", rejected, rejectedOK}} {
		if answer.ok && answer.turns.plain != prompt.plain {
			v.problem(line, answer.field, "is %s but the prompt is %s", shapeName(answer.turns.plain), shapeName(prompt.plain))
		}
	}
	shape := shapeName(prompt.plain)
	switch {
	case v.shape == "":
		v.shape, v.shapeLine = shape, line
	case v.shape != shape:
		v.problem(line, "prompt", "is %s but line %d is %s", shape, v.shapeLine, v.shape)
	}
}

// checkPromptID compares a present prompt_id with the sha256 of the last user
// message.
func (v *validator) checkPromptID(line int, row map[string]any, prompt turns) {
	value, present := row["prompt_id"]
	if !present {
		return
	}
	id, isString := value.(string)
	if !isString {
		v.problem(line, "prompt_id", "must be a string, got %s", jsonType(value))
		return
	}
	text, ok := prompt.lastUser()
	if !ok {
		return
	}
	if want := PromptID(text); strings.ToLower(id) != want {
		v.problem(line, "prompt_id", "is %q but the sha256 of the last user message is %s", id, want)
	}
}

// checkHeldout hashes every user message itself rather than trusting the
// file's prompt_id, which could be stale or forged.
func (v *validator) checkHeldout(line int, field string, t turns) {
	for _, m := range t.messages {
		if m.Role != "user" {
			continue
		}
		if id := PromptID(m.Content); v.heldout[id] {
			v.problem(line, field, "prompt is held out (prompt_id %s)", id)
			return
		}
	}
}

// checkDuplicate reports a row whose training content equals an earlier row's.
func (v *validator) checkDuplicate(line int, content []any) {
	encoded, err := json.Marshal(content)
	if err != nil {
		v.problem(line, "", "cannot compare with other rows: %v", err)
		return
	}
	key := sha256.Sum256(encoded)
	if first, seen := v.seen[key]; seen {
		v.problem(line, "", "duplicate of line %d", first)
		return
	}
	v.seen[key] = line
}

func (v *validator) checkSFT(line int, row map[string]any) {
	conv, ok := v.decodeTurns(line, row, "messages", "")
	if !ok {
		return
	}
	if n := len(conv.messages); n > 0 && conv.messages[n-1].Role == "assistant" {
		v.promptLens = append(v.promptLens, turns{messages: conv.messages[:n-1]}.runes())
		v.chosenLens = append(v.chosenLens, utf8.RuneCountInString(conv.messages[n-1].Content))
	}
	v.checkPromptID(line, row, conv)
	v.checkHeldout(line, "messages", conv)
	if v.checkConversation(line, conv) {
		v.checkDuplicate(line, []any{conv.messages})
	}
}

// checkConversation checks an SFT message list; it reports whether it is usable.
func (v *validator) checkConversation(line int, conv turns) bool {
	ok := true
	for i, m := range conv.messages {
		if blank(m.Content) {
			v.problem(line, fmt.Sprintf("messages[%d].content", i), "empty content")
			ok = false
		}
	}
	for _, role := range []string{"user", "assistant"} {
		if !slices.ContainsFunc(conv.messages, func(m Message) bool { return m.Role == role }) {
			v.problem(line, "messages", "needs at least one %s message", role)
			ok = false
		}
	}
	if n := len(conv.messages); n > 0 && conv.messages[n-1].Role != "assistant" {
		v.problem(line, "messages", "last message must have role assistant, got %q", conv.messages[n-1].Role)
		ok = false
	}
	return ok
}

// lengthStats summarises lengths; the zero value stands for no rows.
func lengthStats(lengths []int) LengthStats {
	if len(lengths) == 0 {
		return LengthStats{}
	}
	sorted := slices.Clone(lengths)
	slices.Sort(sorted)
	n := len(sorted)
	p95 := (95*n + 99) / 100 // nearest rank: ceil(0.95 n)
	return LengthStats{
		Min:    sorted[0],
		Median: sorted[(n-1)/2],
		P95:    sorted[p95-1],
		Max:    sorted[n-1],
	}
}
