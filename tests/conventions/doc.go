// Package conventions has no code of its own: its test holds the course to
// the conventions table in CONTRIBUTING.md. It builds every chapter program,
// reads the -h of the program and of each of its commands, does the same for
// the Python twin (python/chNN_*.py), and fails on
//
//   - a flag named against the table (-drain instead of -drain-timeout,
//     -servername, -idle, -delay, ...), or of the wrong type or default;
//   - a flag or option without help text;
//   - a Python option that takes seconds where Go takes a duration ("5s");
//   - a Go flag with no Python twin, or a Python option with no Go twin,
//     in a command both languages have (unless listed as one language's own);
//   - a Python command Go does not have, or a different default command.
//
// To add a flag that follows the table, add nothing. To add a concept, add
// a row to CONTRIBUTING.md and to the names table in conventions_test.go.
package conventions
