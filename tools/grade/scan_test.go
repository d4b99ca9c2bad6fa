package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGradingTests(t *testing.T) {
	all := map[string]bool{"exercise-a": true, "exercise-b": true, "exercise-c": true, "exercise-e": true, "exercise-f": true}
	got, err := gradingTests("testdata/scan", all)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"ch01-x": {"TestDirect", "TestInSubtest", "TestNamesIt", "TestThroughHelper", "TestThroughVariable"},
		"ch02-y": {"TestExternal", "TestTable"},
	}, got, "the nested module is left out")

	// One exercise: the tests that name it, and those that name one only at
	// run time.
	got, err = gradingTests("testdata/scan", map[string]bool{"exercise-f": true})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"ch01-x": {"TestNamesIt", "TestThroughVariable"},
		"ch02-y": {"TestTable"},
	}, got)
}
