package hsm

import (
	"runtime"
	"syscall"
)

// lowPriority runs fn on an OS thread of its own at the lowest CPU
// priority, and ends that thread after. Software tokens (SoftHSM2) search
// for primes in the calling thread for 100–300 ms; at normal priority two
// generations fill two cores and every decryption waits for CPU. At nice 19
// a generation takes only the CPU nothing else wants — so only work nobody
// waits for (the pool's refill) runs this way: under full load it could
// starve. fn must not hold a lock others wait on.
func lowPriority(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, niceness and all
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
		fn()
	}()
	<-done
}
