package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ReadFile reads a cluster file for Parse, refusing what is not one: a
// FIFO (which would block), a device such as /dev/zero (which never
// ends), a directory, or a file over MaxFileSize. A file that cannot be
// read is one Diagnostic without a position.
func ReadFile(filename string) ([]byte, Diagnostics) {
	src, err := readFile(filename)
	if err != nil {
		return nil, Diagnostics{{Filename: filename, Message: "reading config: " + err.Error()}}
	}
	return src, nil
}

func readFile(filename string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading waits for a writer
	// otherwise. Go opens every file close-on-exec.
	f, err := os.OpenFile(filename, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, causeOf(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, causeOf(err)
	}
	if kind := fileKind(st.Mode()); kind != "" {
		return nil, fmt.Errorf("is a %s, not a regular file", kind)
	}
	if st.Size() > MaxFileSize {
		return nil, errors.New(tooLarge(st.Size()))
	}
	// The size is a hint: the file may grow after the Stat, and files
	// such as those of /proc say 0. Read one byte past the limit to
	// know it was passed.
	buf := make([]byte, 0, st.Size()+1)
	src, err := readAtMost(f, buf, MaxFileSize+1)
	if err != nil {
		return nil, causeOf(err)
	}
	if len(src) > MaxFileSize {
		return nil, fmt.Errorf("the file is more than the %d MiB a cluster file may have", MaxFileSize>>20)
	}
	return src, nil
}

// readAtMost appends r's contents to buf, up to limit bytes.
// sameFile reports whether the file filename holds exactly want. It
// reads the file a chunk at a time rather than whole: a reload of files
// that did not change then allocates next to nothing, which on a large
// configuration spares the collector a pass over everything it keeps.
// Any error reading the file is a difference (the caller's full read
// reports it).
func sameFile(filename string, want []byte) bool {
	f, err := os.OpenFile(filename, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != int64(len(want)) {
		return false
	}
	var buf [32 << 10]byte
	for {
		n, err := f.Read(buf[:])
		if n > len(want) || !bytes.Equal(buf[:n], want[:n]) {
			return false
		}
		want = want[n:]
		switch {
		case err == io.EOF:
			return len(want) == 0
		case err != nil:
			return false
		}
	}
}

func readAtMost(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// causeOf drops the *fs.PathError around err: the diagnostic names the
// file already.
func causeOf(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
