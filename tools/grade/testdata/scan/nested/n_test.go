package nested

import (
	"testing"

	"example.com/c/internal/exercise"
)

// In a module of its own: go test in the course's root cannot run it.
func TestNested(t *testing.T) { exercise.Graded(t, "exercise-a") }
