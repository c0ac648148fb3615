package test

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/keyport-kms/keyport/ids"
	"github.com/keyport-kms/keyport/softhsm"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/bolt"
)

// rssKB reads a process's resident set size.
func rssKB(tb testing.TB, pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// addKeys bulk-loads n SOFTWARE keys into the stopped server's store, with
// records of their real size (the sealed material is random bytes: the
// benchmark reads keys, it does not decrypt with them).
func addKeys(tb testing.TB, s *server, n int) {
	st, err := bolt.Open(s.dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	for done := 0; done < n; {
		var batch []*store.Key
		for ; done < n && len(batch) < 10_000; done++ {
			sealed, fp := make([]byte, 12+32+16), make([]byte, 32)
			_, _ = rand.Read(sealed)
			_, _ = rand.Read(fp)
			batch = append(batch, &store.Key{ID: ids.NewUUID(), VersionID: ids.NewUUID(), Spec: "Aliyun_AES_256",
				Usage: "ENCRYPT/DECRYPT", Origin: "Aliyun_KMS", Protection: "SOFTWARE", Created: now.Add(time.Duration(done)),
				State: "Enabled", Fingerprint: fp, SealedMat: sealed})
		}
		if err := st.CreateKeys(tb.Context(), batch); err != nil {
			tb.Fatal(err)
		}
	}
}

type scaleFigures struct {
	keys        int
	readyAfter  time.Duration
	rssKB       int
	first, last time.Duration // ListKeys page medians
}

// measureScale runs a server over a store of n keys and measures restart
// to /readyz, idle RSS, and ListKeys' first and last page over HTTP.
func measureScale(b *testing.B, n int) scaleFigures {
	tok := softhsm.New(b)
	s := startServerOn(b, tok)
	s.stop(b)
	addKeys(b, s, n)
	t0 := time.Now()
	s.start(b)
	f := scaleFigures{keys: n, readyAfter: time.Since(t0)}
	c := newV1(b, s, s.sk)
	page := func(number int) time.Duration {
		var d []time.Duration
		for i := 0; i < 30; i++ {
			lk := kms.CreateListKeysRequest()
			c.prep(lk.RpcRequest)
			lk.PageNumber, lk.PageSize = requests.NewInteger(number), requests.NewInteger(10)
			t1 := time.Now()
			res := must(c.c.ListKeys(lk))
			d = append(d, time.Since(t1))
			if res.TotalCount != n || len(res.Keys.Key) == 0 {
				b.Fatalf("ListKeys page %d: %d of %d keys", number, len(res.Keys.Key), res.TotalCount)
			}
		}
		return median(d)
	}
	if n > 0 {
		f.first, f.last = page(1), page((n+9)/10)
	}
	time.Sleep(2 * time.Second) // idle: the refill done, nothing asked
	f.rssKB = rssKB(b, s.cmd.Process.Pid)
	return f
}

// BenchmarkScale: at 100,000 keys, idle RSS grows at most 0.5 MB per 1,000
// keys over an empty store, ListKeys' first and last page take at most twice
// page 1 at 100 keys, and a restart is ready within 2 s.
func BenchmarkScale(b *testing.B) {
	defer catch(b)
	const big = 100_000
	empty := measureScale(b, 0)
	small := measureScale(b, 100)
	large := measureScale(b, big)
	perK := float64(large.rssKB-empty.rssKB) / 1024 / (big / 1000)
	b.ReportMetric(perK, "MB-RSS-per-1000-keys")
	b.ReportMetric(float64(large.first)/float64(small.first), "page1-ratio")
	b.ReportMetric(float64(large.last)/float64(small.first), "lastpage-ratio")
	b.ReportMetric(large.readyAfter.Seconds(), "s-to-ready")
	b.Logf("RSS %d kB empty, %d kB at %d keys; ListKeys p50 %v at 100 keys, %v first / %v last page at %d keys; ready %v after start",
		empty.rssKB, large.rssKB, big, small.first, large.first, large.last, big, large.readyAfter)
	if perK > 0.5 || float64(large.first) > 2*float64(small.first) || float64(large.last) > 2*float64(small.first) || large.readyAfter > 2*time.Second {
		b.Fatalf("over target: %.2f MB per 1000 keys, pages %v/%v vs %v, ready after %v", perK, large.first, large.last, small.first, large.readyAfter)
	}
}
