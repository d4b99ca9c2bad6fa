package y_test

import (
	"testing"

	"example.com/c/internal/exercise"
)

func TestExternal(t *testing.T) { exercise.Graded(t, "exercise-e") }
