package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGradingTests(t *testing.T) {
	got, err := gradingTests("testdata/scan", map[string]bool{"exercise-f": true})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"ch01-x": {"TestDirect", "TestInSubtest", "TestNamesIt", "TestThroughHelper", "TestThroughVariable"},
		"ch02-y": {"TestExternal"},
	}, got)
}
