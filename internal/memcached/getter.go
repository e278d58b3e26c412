package memcached

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/bradfitz/gomemcache/memcache"
)

// maxValueLen bounds the value a gets answer may announce: memcached's own
// item limit is 1 MiB by default and 1 GiB at most, and no value this
// module stores comes near the bound.
const maxValueLen = 16 << 20

// getMulti returns the items the node holds of keys, aligned with keys (nil
// for a miss), with one gets in the calling goroutine. (gomemcache's
// GetMulti starts a goroutine per call, and on a busy machine waking it and
// then its caller costs about half a loopback round trip more than a Get:
// BenchmarkGetMulti.) Its errors are those of the connection (a timeout is a
// net.Error whose Timeout is true) or a malformed answer.
func (cs *conns) getMulti(keys []string) ([]*memcache.Item, error) {
	for _, k := range keys {
		if !legalKey(k) {
			return nil, memcache.ErrMalformedKey
		}
	}
	var items []*memcache.Item
	err := cs.exchange(func(c *rawConn) (err error) {
		items, err = c.gets(keys)
		return err
	})
	return items, err
}

// legalKey is gomemcache's rule: at most 250 bytes, no space or control
// character.
func legalKey(key string) bool {
	if len(key) > 250 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return false
		}
	}
	return true
}

var (
	crlf   = []byte("\r\n")
	end    = []byte("END\r\n")
	valueP = []byte("VALUE ")
)

// gets sends "gets k1 k2 …" and reads the answer. memcached answers the
// keys it holds in the order asked. Its items carry their CAS ids.
func (cn *rawConn) gets(keys []string) ([]*memcache.Item, error) {
	cn.w.WriteString("gets")
	for _, k := range keys {
		cn.w.WriteByte(' ')
		cn.w.WriteString(k)
	}
	cn.w.Write(crlf)
	if err := cn.w.Flush(); err != nil {
		return nil, err
	}
	items := make([]*memcache.Item, len(keys))
	next := 0 // the first key not yet answered
	for {
		line, err := cn.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if bytes.Equal(line, end) {
			return items, nil
		}
		key, flags, size, cas, err := parseValueLine(line)
		if err != nil {
			return nil, err
		}
		for next < len(keys) && keys[next] != string(key) {
			next++
		}
		if next == len(keys) {
			return nil, fmt.Errorf("memcached: gets: answer for a key not asked, or out of order: %.40q", line)
		}
		v := make([]byte, size+len(crlf))
		if _, err := io.ReadFull(cn.r, v); err != nil {
			return nil, err
		}
		if !bytes.HasSuffix(v, crlf) {
			return nil, errors.New("memcached: gets: value not followed by CRLF")
		}
		items[next] = &memcache.Item{Key: keys[next], Value: v[:size], Flags: flags, CasID: cas}
		next++
	}
}

// parseValueLine reads "VALUE <key> <flags> <bytes> <cas>\r\n".
func parseValueLine(line []byte) (key []byte, flags uint32, size int, cas uint64, err error) {
	rest, ok := bytes.CutPrefix(line, valueP)
	rest, ok2 := bytes.CutSuffix(rest, crlf)
	var f [4][]byte
	for i := range f {
		if i < len(f)-1 {
			f[i], rest, ok2 = bytes.Cut(rest, []byte{' '})
		} else {
			f[i] = rest
		}
		if !ok || !ok2 || len(f[i]) == 0 {
			return nil, 0, 0, 0, fmt.Errorf("memcached: gets: unexpected answer %.40q", line)
		}
	}
	fl, err1 := strconv.ParseUint(string(f[1]), 10, 32)
	size, err2 := strconv.Atoi(string(f[2]))
	cas, err3 := strconv.ParseUint(string(f[3]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || size < 0 || size > maxValueLen {
		return nil, 0, 0, 0, fmt.Errorf("memcached: gets: malformed VALUE line %.40q", line)
	}
	return f[0], uint32(fl), size, cas, nil
}
