package benchrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadResult(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"services": 7}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"services": `), 0o644); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Services int `json:"services"`
	}
	if err := ReadResult(good, &r); err != nil || r.Services != 7 {
		t.Errorf("ReadResult(good) = %v, services %d; want nil, 7", err, r.Services)
	}
	if err := ReadResult(bad, &r); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("ReadResult(bad) = %v, want a decoding error", err)
	}
	if err := ReadResult(filepath.Join(dir, "none.json"), &r); err == nil || !strings.Contains(err.Error(), "reading") {
		t.Errorf("ReadResult(missing) = %v, want a reading error", err)
	}
}

func TestWriteSectionRelativeToRoot(t *testing.T) {
	root := t.TempDir()
	doc := "# Benchmarks\n\n## A\n\nold\n\n## B\n\nkept\n"
	if err := os.WriteFile(filepath.Join(root, "BENCHMARKS.md"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	path, err := WriteSection(root, "BENCHMARKS.md", "## A\n\nnew\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "BENCHMARKS.md"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); !strings.Contains(got, "## A\n\nnew\n") || strings.Contains(got, "old") || !strings.Contains(got, "## B\n\nkept\n") {
		t.Errorf("after WriteSection:\n%s", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPublish(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "B.md"), []byte("## A\n\nold\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Publish(root, "", "x", "## A\n\nprinted only\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "B.md")); string(b) != "## A\n\nold\n" {
		t.Errorf("Publish without a path wrote the file: %q", b)
	}
	if err := Publish(root, "B.md", "x", "## A\n\nnew\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "B.md")); !strings.Contains(string(b), "new") || strings.Contains(string(b), "old") {
		t.Errorf("after Publish: %q", b)
	}
}
