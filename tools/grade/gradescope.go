package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Gradescope's autograder reads /autograder/results/results.json, whose
// format is documented at
// https://gradescope-autograders.readthedocs.io/en/latest/specs/ : a
// top-level score and execution_time (seconds), an output for the whole
// submission, visibility settings, and a test per graded item with its
// score, max_score, status, name, output and visibility. Here each exercise
// is a test worth its points (exercise.json), all or nothing.
type gradescopeResults struct {
	Score            int              `json:"score"`
	ExecutionTime    int              `json:"execution_time"`
	Output           string           `json:"output"`
	Visibility       string           `json:"visibility"`
	StdoutVisibility string           `json:"stdout_visibility"`
	Tests            []gradescopeTest `json:"tests"`
}

type gradescopeTest struct {
	Score      int            `json:"score"`
	MaxScore   int            `json:"max_score"`
	Status     string         `json:"status"` // passed, failed
	Name       string         `json:"name"`
	Number     string         `json:"number"`
	Output     string         `json:"output"`
	Tags       []string       `json:"tags"`
	Visibility string         `json:"visibility"`
	ExtraData  map[string]any `json:"extra_data"`
}

// Gradescope renders the board as Gradescope's results.json. Everything is
// visible to the student at once: the grading tests are the course's own,
// published with it, so nothing is hidden.
func (b *Board) Gradescope() []byte {
	doc := gradescopeResults{
		Score:            b.Score,
		ExecutionTime:    int(math.Round(b.Seconds)),
		Output:           b.summary(),
		Visibility:       "visible",
		StdoutVisibility: "hidden",
		Tests:            []gradescopeTest{},
	}
	n := map[string]int{}
	for _, r := range b.Exercises {
		n[r.Chapter]++
		t := gradescopeTest{
			Score:      r.Score(),
			MaxScore:   r.Points,
			Status:     "passed",
			Name:       r.Chapter + " " + titled(r.Exercise+" ("+r.Lang+")", r.Title),
			Number:     fmt.Sprintf("%s.%d", strings.TrimLeft(strings.TrimPrefix(r.Chapter, "ch"), "0"), n[r.Chapter]),
			Output:     "Graded by " + strings.Join(r.Tests, ", ") + ".",
			Tags:       []string{r.Chapter, r.Lang},
			Visibility: "visible",
			ExtraData:  map[string]any{"exercise": r.Exercise, "seconds": math.Round(r.Seconds*1000) / 1000, "tests": r.Tests},
		}
		if r.Pointer != "" {
			t.Output += " Taught in " + r.Pointer + "."
		}
		if !r.Passed {
			t.Status = "failed"
			t.Output = r.Reason + "\n\n" + r.Output
		}
		doc.Tests = append(doc.Tests, t)
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return append(out, '\n')
}

// summary is the scoreboard's last line, with the other failures.
func (b *Board) summary() string {
	s := fmt.Sprintf("%d/%d exercises done, %d/%d points.", b.Passed, b.Total, b.Score, b.MaxScore)
	if b.Python != "graded" {
		s += " Python " + b.Python + "."
	}
	for _, f := range b.Other {
		s += "\n" + f.Test + ": " + oneLine(f.Reason, 200)
	}
	return s
}
