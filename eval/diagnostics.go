package eval

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// maxDiagnostics bounds the diagnostics a Result keeps; the counts still cover all of them.
const maxDiagnostics = 50

// Diagnostic is one message of rustc or clippy. Line and Column (1-based) point into Program.Source, or are 0
// when the message has no span in it.
type Diagnostic struct {
	Level   string
	Code    string
	Message string
	Line    int
	Column  int
}

// rustcMessage is the part of a line of rustc's --error-format=json output that a check reads.
type rustcMessage struct {
	MessageType string `json:"$message_type"`
	Message     string `json:"message"`
	Level       string `json:"level"`
	Code        *struct {
		Code string `json:"code"`
	} `json:"code"`
	Spans []struct {
		FileName    string `json:"file_name"`
		IsPrimary   bool   `json:"is_primary"`
		LineStart   int    `json:"line_start"`
		ColumnStart int    `json:"column_start"`
	} `json:"spans"`
}

// warningsSummary matches the closing "3 warnings emitted" line, which counts warnings rather than being one.
var warningsSummary = regexp.MustCompile(`^\d+ warnings? emitted`)

// parseDiagnostics reads rustc's JSON lines. Lines that are not diagnostics (a truncated last line, plain
// text) are skipped, and so are the closing summaries: "aborting due to N previous errors" is level error
// without a code and "N warnings emitted" level warning, and neither is a problem of the code.
func parseDiagnostics(output []byte) []Diagnostic {
	var diagnostics []Diagnostic
	for line := range bytes.SplitSeq(output, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 || line[0] != '{' {
			continue
		}
		var message rustcMessage
		if json.Unmarshal(line, &message) != nil {
			continue
		}
		if message.MessageType != "" && message.MessageType != "diagnostic" {
			continue
		}
		diagnostic := Diagnostic{Level: message.Level, Message: message.Message}
		if message.Code != nil {
			diagnostic.Code = message.Code.Code
		}
		if isSummary(diagnostic) {
			continue
		}
		diagnostic.Line, diagnostic.Column = primaryPosition(message)
		diagnostics = append(diagnostics, diagnostic)
	}
	return diagnostics
}

func isSummary(d Diagnostic) bool {
	switch {
	case d.Level == "failure-note":
		return true
	case d.Code != "":
		return false
	case d.Level == "error":
		return strings.HasPrefix(d.Message, "aborting due to")
	case d.Level == "warning":
		return warningsSummary.MatchString(d.Message)
	}
	return false
}

// primaryPosition returns the start of the message's primary span in the checked file, preferring it over
// primary spans inside the standard library that macro errors can carry.
func primaryPosition(message rustcMessage) (line, column int) {
	for _, span := range message.Spans {
		if span.IsPrimary && span.FileName == sourceFileName {
			return span.LineStart, span.ColumnStart
		}
	}
	return 0, 0
}

func isError(d Diagnostic) bool {
	// An internal compiler error arrives with level "error: internal compiler error".
	return strings.HasPrefix(d.Level, "error")
}

func isLint(d Diagnostic) bool {
	return strings.HasPrefix(d.Code, "clippy::")
}
