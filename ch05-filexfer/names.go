package main

import (
	"strings"
	"unicode/utf8"
)

// PartialDir is the directory, inside the receiver's directory, where files
// being received live until they are verified. Senders may not name it.
const PartialDir = ".fxpart"

// ANCHOR: checkname
// CheckName refuses every name that could write outside the receiver's
// directory or confuse a file system. A name is relative, uses '/' between
// components, and each component is a plain file or directory name. The
// check is purely lexical and the same in Go and Python (the shared test
// vectors hold both to it); symlinks are dealt with when the file is opened
// (see os.Root in receiver.go).
func CheckName(name string) error {
	switch {
	case len(name) == 0 || len(name) > MaxNameLen:
		return protoErr(StatusBadName, "name length %d not in 1..%d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return protoErr(StatusBadName, "name is not valid UTF-8")
	case strings.HasPrefix(name, "/"):
		return protoErr(StatusBadName, "absolute name %q", name)
	}
	for _, r := range name {
		switch {
		// NUL, newline, ESC, DEL, and the C1 controls U+0080-U+009F
		// (U+009B alone starts an escape sequence on some terminals).
		case r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f:
			return protoErr(StatusBadName, "control character 0x%02x in name", r)
		// Bidirectional-text controls reorder what a terminal shows:
		// "evil\u202etxt.exe" is listed as "evilexe.txt" (Unicode UAX #9).
		case 0x202a <= r && r <= 0x202e || 0x2066 <= r && r <= 0x2069 ||
			r == 0x200e || r == 0x200f || r == 0x061c:
			return protoErr(StatusBadName, "bidirectional control U+%04X in name", r)
		case r == '\\' || r == ':': // Windows separators and drive letters
			return protoErr(StatusBadName, "character %q not allowed in name", r)
		}
	}
	// ANCHOR_END: checkname
	// ANCHOR: checkname-components
	for i, comp := range strings.Split(name, "/") {
		switch {
		case comp == "":
			return protoErr(StatusBadName, "empty path component in %q", name)
		case comp == "." || comp == "..":
			return protoErr(StatusBadName, "%q component in %q", comp, name)
		case len(comp) > MaxComponentLen:
			return protoErr(StatusBadName, "component of %d bytes, limit %d", len(comp), MaxComponentLen)
		case i == 0 && strings.EqualFold(comp, PartialDir): // .FXPART is the same directory on macOS and Windows
			return protoErr(StatusBadName, "%s is reserved for the receiver", PartialDir)
		}
	}
	return nil
}

// ANCHOR_END: checkname-components
