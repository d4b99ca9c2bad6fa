package x

import (
	"testing"

	"example.com/c/internal/exercise"
)

func TestDirect(t *testing.T) { exercise.Graded(t, "exercise-a") }

func TestInSubtest(t *testing.T) {
	t.Run("case", func(t *testing.T) { exercise.Graded(t, "exercise-b") })
}

// start grades, and so does every test that calls it, even through another helper.
func start(t *testing.T) { exercise.Graded(t, "exercise-c") }

func startTwice(t *testing.T) { start(t); start(t) }

func TestThroughHelper(t *testing.T) { startTwice(t) }

func TestNotGrading(t *testing.T) {}

func Testlower(t *testing.T) { exercise.Graded(t, "exercise-d") } // not a test

// A test that hands the exercise's name to a helper of another package.
func TestNamesIt(t *testing.T) { other.Check(t, "exercise-f") }

var checks = map[string]string{"CRLF": "exercise-f"}

func TestThroughVariable(t *testing.T) { other.Check(t, checks["CRLF"]) }

func TestNamesAnotherString(t *testing.T) { other.Check(t, "exercise-unknown") }
