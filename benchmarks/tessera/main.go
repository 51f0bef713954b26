// Command tessera-bench appends entries to a Tessera POSIX log in a temporary
// directory and prints what it measured as JSON: the peer of
// benchmarks/bench_append.py's batch-256 row, run by benchmarks/bench_tessera.py.
//
//	tessera-bench -leaves FILE [-batch 256] [-runs 3] [-dir DIR]
//	tessera-bench -n 20000 -size 463 ...      (synthetic leaves instead of FILE)
//
// Each run creates a fresh log (posix.New on a new directory under -dir, so on
// the disk of -dir) and appends the entries in lockstep batches: -batch calls to
// Appender.Add, then it waits for every returned future before the next batch,
// as bench_append.py calls LogWriter.commit(batch) and waits for it. Tessera's
// batch size is set to the same number (AppendOptions.WithBatching), so each
// batch is flushed by size as soon as its last entry is added, and is sequenced
// and integrated by one call of the POSIX driver.
//
// A future resolves once the driver has written the entry bundle(s), the tiles
// and its tree state (.state/treeState): every file written to a temporary
// file opened with O_SYNC, renamed into place and the directory fsynced. The
// signed checkpoint is not part of that: the driver publishes it from a
// separate goroutine at most once per -checkpoint-interval (minimum 100 ms).
// So two figures per run: entries/s with every future resolved ("integrated",
// the primary one), and the time until a published checkpoint covers the last
// entry ("published").
//
// The first -warmup batches of a run are not timed. The best run (highest
// integrated entries/s) is reported, with every run in "runs".
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

const origin = "bench.frontier-ledger.invalid/tessera"

var (
	leavesFile = flag.String("leaves", "", "file of leaves, one per line (the line is the entry's data, without the newline)")
	count      = flag.Int("n", 0, "entries per run (default: every line of -leaves; required without -leaves)")
	size       = flag.Int("size", 463, "bytes per synthetic entry when -leaves is not given")
	batch      = flag.Int("batch", 256, "entries per batch: Adds before waiting for their futures, and Tessera's WithBatching max size")
	batchAge   = flag.Duration("batch-max-age", tessera.DefaultBatchMaxAge, "WithBatching max age (a lockstep batch is flushed by size first)")
	cpInterval = flag.Duration("checkpoint-interval", 100*time.Millisecond, "WithCheckpointInterval (the POSIX driver's minimum is 100ms)")
	runs       = flag.Int("runs", 3, "runs, each on a fresh log")
	warmup     = flag.Int("warmup", 3, "untimed batches at the start of each run")
	dir        = flag.String("dir", os.TempDir(), "parent directory of each run's log (the disk measured)")
	keep       = flag.Bool("keep", false, "keep each run's log directory")
	publishMax = flag.Duration("publish-timeout", 30*time.Second, "give up waiting for the checkpoint that covers the last entry after this long")
)

type runResult struct {
	Entries         int       `json:"entries"`
	Batches         int       `json:"batches"`
	ElapsedS        float64   `json:"elapsed_s"`
	EntriesPerS     float64   `json:"entries_per_s"`
	P50Ms           float64   `json:"p50_ms"`
	P99Ms           float64   `json:"p99_ms"`
	MaxMs           float64   `json:"max_ms"`
	PublishLagMs    float64   `json:"publish_lag_ms"`
	PublishedPerS   float64   `json:"published_entries_per_s"`
	TreeSize        uint64    `json:"tree_size"`
	RootB64         string    `json:"root"`
	ByThird         []float64 `json:"entries_per_s_by_third"`
	CheckpointBytes int       `json:"checkpoint_bytes"`
}

type output struct {
	Tool              string            `json:"tool"`
	TesseraModule     string            `json:"tessera_module"`
	TesseraVersion    string            `json:"tessera_version"`
	GoVersion         string            `json:"go_version"`
	Batch             int               `json:"batch"`
	BatchMaxAge       string            `json:"batch_max_age"`
	CheckpointInterv  string            `json:"checkpoint_interval"`
	Warmup            int               `json:"warmup_batches"`
	EntriesPerRun     int               `json:"entries_per_run"`
	EntryBytesMean    float64           `json:"entry_bytes_mean"`
	LeavesSource      string            `json:"leaves_source"`
	Dir               string            `json:"dir"`
	Durability        map[string]string `json:"durability"`
	Runs              []runResult       `json:"runs"`
	Best              runResult         `json:"best"`
	MedianEntriesPerS float64           `json:"median_entries_per_s"`
}

func main() {
	klog.InitFlags(nil)
	_ = flag.Set("logtostderr", "true")
	_ = flag.Set("v", "0")
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tessera-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	if *batch < 1 || *runs < 1 || *warmup < 0 {
		return errors.New("-batch and -runs must be ≥ 1, -warmup ≥ 0")
	}
	leaves, source, err := loadLeaves()
	if err != nil {
		return err
	}
	nb := len(leaves) / *batch
	if nb <= *warmup {
		return fmt.Errorf("%d entries make %d batches of %d: need more than -warmup %d", len(leaves), nb, *batch, *warmup)
	}
	leaves = leaves[:nb**batch]
	total := 0
	for _, l := range leaves {
		total += len(l)
	}

	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}

	mod, ver := tesseraVersion()
	out := output{
		Tool:             "benchmarks/tessera (tessera-bench)",
		TesseraModule:    mod,
		TesseraVersion:   ver,
		GoVersion:        runtime.Version(),
		Batch:            *batch,
		BatchMaxAge:      batchAge.String(),
		CheckpointInterv: cpInterval.String(),
		Warmup:           *warmup,
		EntriesPerRun:    len(leaves),
		EntryBytesMean:   float64(total) / float64(len(leaves)),
		LeavesSource:     source,
		Dir:              *dir,
		Durability: map[string]string{
			"files": "every entry bundle, tile and .state/treeState is written to a temporary file opened O_WRONLY|O_CREAT|O_EXCL|O_SYNC, " +
				"renamed into place, then the directory is fsynced; new directories are created with their parent fsynced (storage/posix/file_ops.go; no option changes it)",
			"acknowledged": "an Add's future resolves after its whole batch's bundles, tiles and treeState are durable (integrated, not yet published)",
			"checkpoint":   "signed and written the same way (O_SYNC + rename + directory fsync) by a separate goroutine, at most once per checkpoint interval; not awaited by Add",
		},
	}
	for r := 0; r < *runs; r++ {
		res, err := oneRun(signer, leaves)
		if err != nil {
			return fmt.Errorf("run %d: %w", r+1, err)
		}
		fmt.Fprintf(os.Stderr, "tessera run %d: %.0f entries/s integrated (p50 %.2f ms, p99 %.2f ms per batch), checkpoint covering the last entry %.0f ms later\n",
			r+1, res.EntriesPerS, res.P50Ms, res.P99Ms, res.PublishLagMs)
		out.Runs = append(out.Runs, res)
	}
	rates := make([]float64, len(out.Runs))
	out.Best = out.Runs[0]
	for i, r := range out.Runs {
		rates[i] = r.EntriesPerS
		if r.EntriesPerS > out.Best.EntriesPerS {
			out.Best = r
		}
	}
	out.MedianEntriesPerS = median(rates)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// loadLeaves reads -leaves (one entry per line) or makes -n synthetic entries
// of -size bytes, each distinct (its number, then filler).
func loadLeaves() ([][]byte, string, error) {
	if *leavesFile != "" {
		f, err := os.Open(*leavesFile)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		var leaves [][]byte
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<17)
		for sc.Scan() {
			leaves = append(leaves, bytes.Clone(sc.Bytes()))
			if *count > 0 && len(leaves) == *count {
				break
			}
		}
		if err := sc.Err(); err != nil {
			return nil, "", err
		}
		if *count > 0 && len(leaves) < *count {
			return nil, "", fmt.Errorf("%s has %d lines, fewer than -n %d", *leavesFile, len(leaves), *count)
		}
		return leaves, *leavesFile, nil
	}
	if *count <= 0 {
		return nil, "", errors.New("give -leaves FILE or -n N")
	}
	leaves := make([][]byte, *count)
	for i := range leaves {
		head := `{"n":` + strconv.Itoa(i) + `,"pad":"`
		pad := *size - len(head) - 2
		if pad < 0 {
			pad = 0
		}
		leaves[i] = []byte(head + strings.Repeat("x", pad) + `"}`)
	}
	return leaves, fmt.Sprintf("synthetic, %d bytes", *size), nil
}

func oneRun(signer note.Signer, leaves [][]byte) (res runResult, err error) {
	logDir, err := os.MkdirTemp(*dir, "tessera-run-")
	if err != nil {
		return res, err
	}
	if !*keep {
		defer os.RemoveAll(logDir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	driver, err := posix.New(ctx, posix.Config{Path: filepath.Join(logDir, "log")})
	if err != nil {
		return res, err
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(uint(*batch), *batchAge).
		WithCheckpointInterval(*cpInterval)
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		return res, err
	}

	nb := len(leaves) / *batch
	lat := make([]float64, 0, nb)
	futures := make([]tessera.IndexFuture, *batch)
	var lastDone time.Time
	for b := 0; b < nb; b++ {
		chunk := leaves[b**batch : (b+1)**batch]
		t0 := time.Now()
		for i, l := range chunk {
			futures[i] = appender.Add(ctx, tessera.NewEntry(l))
		}
		for i, f := range futures {
			idx, err := f()
			if err != nil {
				return res, fmt.Errorf("entry %d: %w", b**batch+i, err)
			}
			if want := uint64(b**batch + i); idx.Index != want || idx.IsDup {
				return res, fmt.Errorf("entry %d got index %d (dup %v)", want, idx.Index, idx.IsDup)
			}
		}
		lastDone = time.Now()
		if b >= *warmup {
			lat = append(lat, lastDone.Sub(t0).Seconds())
		}
	}

	// The checkpoint that commits to every entry: published asynchronously.
	want := uint64(len(leaves))
	deadline := lastDone.Add(*publishMax)
	var cp []byte
	var cpSize uint64
	var root string
	for {
		cp, err = reader.ReadCheckpoint(ctx)
		if err == nil {
			cpSize, root, err = parseCheckpoint(cp)
			if err != nil {
				return res, err
			}
			if cpSize >= want {
				break
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("no checkpoint covering %d entries within %v (latest: %d)", want, *publishMax, cpSize)
		}
		time.Sleep(2 * time.Millisecond)
	}
	published := time.Now()
	if err := shutdown(ctx); err != nil {
		return res, fmt.Errorf("shutdown: %w", err)
	}

	elapsed := 0.0
	for _, d := range lat {
		elapsed += d
	}
	timed := len(lat) * *batch
	third := len(lat) / 3
	var byThird []float64
	if third > 0 {
		for i := 0; i < 3; i++ {
			s := 0.0
			for _, d := range lat[i*third : (i+1)*third] {
				s += d
			}
			byThird = append(byThird, float64(third**batch)/s)
		}
	}
	lagMs := published.Sub(lastDone).Seconds() * 1e3
	return runResult{
		Entries:         timed,
		Batches:         len(lat),
		ElapsedS:        elapsed,
		EntriesPerS:     float64(timed) / elapsed,
		P50Ms:           percentile(lat, 50) * 1e3,
		P99Ms:           percentile(lat, 99) * 1e3,
		MaxMs:           percentile(lat, 100) * 1e3,
		PublishLagMs:    lagMs,
		PublishedPerS:   float64(timed) / (elapsed + lagMs/1e3),
		TreeSize:        cpSize,
		RootB64:         root,
		ByThird:         byThird,
		CheckpointBytes: len(cp),
	}, nil
}

// parseCheckpoint returns the size and the base64 root hash of a checkpoint
// note (origin, size and root on its first three lines, c2sp.org/tlog-checkpoint).
func parseCheckpoint(cp []byte) (uint64, string, error) {
	lines := strings.SplitN(string(cp), "\n", 4)
	if len(lines) < 4 || lines[0] != origin {
		return 0, "", fmt.Errorf("unexpected checkpoint %q", cp)
	}
	n, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("checkpoint size: %w", err)
	}
	if r, err := base64.StdEncoding.DecodeString(lines[2]); err != nil || len(r) != 32 {
		return 0, "", fmt.Errorf("checkpoint root %q", lines[2])
	}
	return n, lines[2], nil
}

// percentile is the nearest-rank percentile (as benchmarks/_common.py's).
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	k = max(0, min(len(s)-1, k))
	return s[k]
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// tesseraVersion is the Tessera module this binary was built with.
func tesseraVersion() (string, string) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/transparency-dev/tessera" {
				if d.Replace != nil {
					return d.Path, d.Version + " => " + d.Replace.Path + " " + d.Replace.Version
				}
				return d.Path, d.Version
			}
		}
	}
	return "github.com/transparency-dev/tessera", "unknown"
}
