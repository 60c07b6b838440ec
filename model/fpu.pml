/*
 * A Promela model of fpuctx's ownership protocol (core/fpu.c, core/guest.c,
 * core/signal.c), checked with SPIN: see model/run.sh and docs/design.md,
 * "The model".
 *
 * What is modelled. Two CPUs, each a process (Cpu) plus its interrupts
 * (Irq: kernel FPU sections in hard interrupts, and the answer to a remote
 * flush request). Three user contexts and one kernel thread:
 *   ctx 0, 1   user tasks: fork, exec, exit, signals
 *   ctx 2      the VMM task: signals, exec, and run calls of one vCPU
 *   ctx 3      a kernel thread (it owns a buffer only under eager)
 * Buffers (struct fpu_state): 0..2 the tasks', 3 the guest's, 4 the kernel
 * thread's. An image is (id, version): the registers of a CPU hold one, a
 * buffer holds one, and every buffer has a "true" image, the newest state of
 * the context it belongs to, which only that context's own code changes
 * (user code, guest code, sigreturn, exec, fork). Versions count modulo NV.
 *
 * Each library call is one atomic step (the simulator's CPUs run one at a
 * time between defined points, and no library call contains one), except
 * where a call waits for another CPU (a remote flush) and the two halves of
 * a signal frame write, between which a hard interrupt may arrive while the
 * FPU lock is held (held[c], FPU_PORT_FPREGS_HELD).
 *
 * Compile-time switches: one policy (POL_EAGER, POL_RFC2015, POL_LINUX,
 * POL_DEFERRED), and at most one BUG_* mutant (the list is in model/run.sh).
 */

#ifndef NV
#define NV 3
#endif

/* What the CPUs may do (all by default; model/run.sh's smaller
 * configurations leave some out): */
#ifndef F_PKRU
#define F_PKRU 1      /* user code writes PKRU */
#endif
#ifndef F_LIFE
#define F_LIFE 1      /* fork, exec, exit */
#endif
#ifndef F_SIGNAL
#define F_SIGNAL 1    /* signal delivery and sigreturn */
#endif
#ifndef F_GUEST
#define F_GUEST 1     /* the vCPU: init, set, get, run calls, guest code */
#endif

#define NCPU    2
#define NOCPU   2     /* last_cpu == -1 */
#define NCTX    4
#define VMM     2
#define KT      3
#define NOCTX   7
#define NBUF    5
#define GB      3     /* the guest's buffer */
#define KB      4     /* the kernel thread's buffer (eager) */
#define NOBUF   7     /* cpu->owner == NULL */
#define INIT    5     /* image id: the init image */
#define SCRATCH 6     /* image id: what a kernel FPU section leaves */

#define KERNEL 0
#define USER   1
#define GUEST  2

/* core/policy.c */
#if defined(POL_EAGER)
#define DEFER_RESTORE 0
#define SKIP_VALID 0
#define KTHREAD_FPU 1
#define KFPU_END_RESTORES 1
#define PER_ENTRY 1
#define DEFER_SAVE 0
#elif defined(POL_RFC2015)
#define DEFER_RESTORE 1
#define SKIP_VALID 1
#define KTHREAD_FPU 0
#define KFPU_END_RESTORES 0
#define PER_ENTRY 1
#define DEFER_SAVE 0
#elif defined(POL_DEFERRED)
#define DEFER_RESTORE 1
#define SKIP_VALID 1
#define KTHREAD_FPU 0
#define KFPU_END_RESTORES 0
#define PER_ENTRY 0
#define DEFER_SAVE 1
#else /* POL_LINUX */
#define DEFER_RESTORE 1
#define SKIP_VALID 1
#define KTHREAD_FPU 0
#define KFPU_END_RESTORES 0
#define PER_ENTRY 0
#define DEFER_SAVE 0
#endif

/* The mutants: each is 0 unless defined on the command line. */
#ifndef BUG_SKIP_OWNER_CHECK
#define BUG_SKIP_OWNER_CHECK 0
#endif
#ifndef BUG_DROP_KEEPS_OWNER
#define BUG_DROP_KEEPS_OWNER 0
#endif
#ifndef BUG_KTHREAD_SAVE
#define BUG_KTHREAD_SAVE 0
#endif
#ifndef BUG_KFPU_NO_SAVE
#define BUG_KFPU_NO_SAVE 0
#endif
#ifndef BUG_SIGRETURN_KEEPS_OWNER
#define BUG_SIGRETURN_KEEPS_OWNER 0
#endif
#ifndef BUG_SIGFRAME_STALE_OWNER
#define BUG_SIGFRAME_STALE_OWNER 0
#endif
#ifndef BUG_GUEST_SAVE_TO_VMM
#define BUG_GUEST_SAVE_TO_VMM 0
#endif
#ifndef BUG_GUEST_SCRATCH
#define BUG_GUEST_SCRATCH 0
#endif
#ifndef BUG_GUEST_ENTER_NO_RELOAD
#define BUG_GUEST_ENTER_NO_RELOAD 0
#endif
#ifndef BUG_NO_REMOTE_FLUSH
#define BUG_NO_REMOTE_FLUSH 0
#endif
#ifndef BUG_FLUSH_ACTIVE_BUFFER
#define BUG_FLUSH_ACTIVE_BUFFER 0
#endif
#ifndef BUG_KFPU_NO_FLUSH
#define BUG_KFPU_NO_FLUSH 0
#endif
#ifndef BUG_EXEC_KEEPS_UNSAVED
#define BUG_EXEC_KEEPS_UNSAVED 0
#endif
/* survivors of a mutation review: no --inject-bug switch of their own */
#ifndef BUG_FORGET_KEEPS_LAST_CPU
#define BUG_FORGET_KEEPS_LAST_CPU 0
#endif
#ifndef BUG_FORK_SAVES_NEED_LOAD
#define BUG_FORK_SAVES_NEED_LOAD 0
#endif
#ifndef BUG_GUEST_SET_KEEPS_LAST_CPU
#define BUG_GUEST_SET_KEEPS_LAST_CPU 0
#endif
#ifndef BUG_KFPU_IRQ_HELD
#define BUG_KFPU_IRQ_HELD 0
#endif
#ifndef BUG_GUEST_INIT_NO_COPY
#define BUG_GUEST_INIT_NO_COPY 0
#endif
/* the deadlock argument of I9: a waiter that keeps its own unsaved image */
#ifndef BUG_WAIT_HOLDING_UNSAVED
#define BUG_WAIT_HOLDING_UNSAVED 0
#endif

/* ---- state ------------------------------------------------------------ */

/* per CPU (struct fpu_cpu, and the registers) */
byte rid[NCPU], rv[NCPU];   /* the image the registers hold */
byte owner[NCPU];           /* cpu->owner */
byte unsaved_ctx[NCPU];     /* cpu->unsaved_ctx */
byte last_user[NCPU];       /* cpu->last_user (testing build: kthread-save) */
bool in_kfpu[NCPU];         /* cpu->in_kernel_fpu */
bool held[NCPU];            /* the port lock is held: FPU_PORT_FPREGS_HELD */
byte cur[NCPU];             /* the running context */
byte mode[NCPU];            /* KERNEL, USER, GUEST */
byte req[NCPU];             /* a flush request pending for this CPU (a buffer) */
bool waiting[NCPU];         /* in flush_remote, waiting for ... */
byte waits_on[NCPU];        /* ... this CPU */
bool pkreg[NCPU];           /* the PKRU register (0: default) */

/* per buffer (struct fpu_state) */
byte bid[NBUF], bv[NBUF];   /* the image in memory */
byte tid[NBUF], tv[NBUF];   /* the true image: the newest state of its context */
byte last_cpu[NBUF];
bool unsaved[NBUF];

/* per context (struct fpu_ctx) */
bool alive[NCTX];
bool nl[NCTX];              /* FPU_CTX_NEED_LOAD */
byte act[NCTX], stashed[NCTX];
byte on[NCTX];              /* the CPU running it */
bool pk[NCTX];              /* ctx->pkru, written at switch-out */
bool tpk[NCTX];             /* its true PKRU */
bool fresh[NCTX];           /* SIM_ORDER: switched in, not yet back in user space */
bool forking[NCTX];         /* a fork into this dead slot is under way (it may wait) */
bool has_frame[NCTX];       /* a signal frame on its stack, holding ... */
byte fid[NCTX], fv[NCTX];   /* ... this image */

bool in_run;                /* the guest's in_run: the VMM is in a run call */

byte i, k;                  /* loop counters of check() and init (reset to 0 after use) */

#define REGS_ARE(c, b)   (rid[c] == tid[b] && rv[c] == tv[b])
#define BUF_IS_TRUE(b)   (bid[b] == tid[b] && bv[b] == tv[b])
#define HAS_FPU(x)       ((x) != KT || KTHREAD_FPU)
#define REGS_LIVE(x)     (HAS_FPU(x) && !nl[x])
#if BUG_SKIP_OWNER_CHECK
#define VALID(c, s)      (last_cpu[s] == (c))
#else
#define VALID(c, s)      (owner[c] == (s) && last_cpu[s] == (c))
#endif
#define NEXTV(v)         (((v) + 1) % NV)

#ifndef SIM_ORDER
#define SIM_ORDER 0
#endif
/* SIM_ORDER keeps to the interleavings the simulated kernel can take in the
 * same order, for model/trail2scn.py: a task switched in returns to user
 * space before it does anything in the kernel (its ops start from user
 * space), kernel FPU sections come from a task's op (kfpu, ipi CPU kfpu),
 * and the scheduler's write-back of a migrating task is part of the switch
 * that migrates it. */
#define SETTLED(c)       (!SIM_ORDER || !fresh[cur[c]])
/* SIM_ORDER: the task whose op (ipi C kfpu) raises CPU c's interrupt: the
 * one running there, or, on an idle CPU, the other CPU's */
#define SENDS(c)         (cur[c] != KT && !fresh[cur[c]] && mode[c] != GUEST)
#define CAN_SEND(c)      (SENDS(c) || SENDS(1 - (c)))

/* ---- the invariants, checked after every step ------------------------- */

#ifndef VISIBLE_ONLY
#define VISIBLE_ONLY 0
#endif

#if VISIBLE_ONLY
/* Only what user code, guest code or the VMM can see is asserted: a
 * counterexample then ends where the simulator's checks fail too (its
 * shortest path to a wrong register seen, for model/trail2scn.py). */
inline check() { skip }
#else
inline check()
{
d_step {
	/* I1: valid(S, cpu) => the registers hold S's image: its buffer, or,
	 * while its context runs there with NEED_LOAD clear, its live state;
	 * I9: S->unsaved => valid(S, S->last_cpu) and those registers hold
	 * S's newest image. */
	for (i : 0 .. NCPU - 1) {
		k = owner[i];
		if
		:: k != NOBUF && last_cpu[k] == i ->
			if
			:: unsaved[k] -> assert(REGS_ARE(i, k))	/* I9 */
			:: !unsaved[k] && HAS_FPU(cur[i]) && !nl[cur[i]] && act[cur[i]] == k -> skip
			:: else -> assert(rid[i] == bid[k] && rv[i] == bv[k])	/* I1 */
			fi
		:: else -> skip
		fi;
		/* I2: a running context with NEED_LOAD clear has its live state
		 * in the registers (whatever it is doing in the kernel); an
		 * exited one has none (eager's kernel_end may reload its buffer) */
		k = cur[i];
		if
		:: (alive[k] || k == KT) && HAS_FPU(k) && !nl[k] -> assert(REGS_ARE(i, act[k]))
		:: else -> skip
		fi
	}
	for (k : 0 .. NBUF - 1) {
		if
		:: unsaved[k] -> assert(last_cpu[k] < NOCPU && owner[last_cpu[k]] == k)	/* I9 */
		:: else -> skip
		fi
	}
	/* I3 (and G1 for a stashed buffer): a live context's buffer that is
	 * not unsaved and whose context is not running live holds the true
	 * image: memory is authoritative. */
	for (i : 0 .. NCTX - 1) {
		if
		:: (alive[i] || (i == KT && KTHREAD_FPU)) ->
			k = act[i];
			if
			:: unsaved[k] -> skip
			:: !unsaved[k] && !nl[i] && on[i] != NOCPU -> skip
			:: else -> assert(BUF_IS_TRUE(k))
			fi;
			k = stashed[i];
			if
			:: k != NOBUF && !unsaved[k] -> assert(BUF_IS_TRUE(k))	/* G1 */
			:: else -> skip
			fi
		:: else -> skip
		fi
	}
	/* I4: kernel threads own no user state */
	assert(KTHREAD_FPU || nl[KT]);
	/* the remote flushes: no two CPUs wait for each other */
	assert(!(waiting[0] && waiting[1]));
	i = 0; k = 0
}
}
#endif

/* ---- core/fpu.c, section 1: the helpers ------------------------------- */

/* Every save: the registers' true owner into that owner's buffer. */
inline write_regs(c, b)
{
	assert(VISIBLE_ONLY || REGS_ARE(c, b));
	bid[b] = rid[c]; bv[b] = rv[c]
}

/* fpu__drop_cpu_owner() */
inline drop_owner(c)
{
	owner[c] = NOBUF
}

/* fpu__forget_state() */
inline forget_state(c, s)
{
	if
	:: BUG_DROP_KEEPS_OWNER -> skip
	:: !BUG_DROP_KEEPS_OWNER && BUG_EXEC_KEEPS_UNSAVED && unsaved[s] -> skip
	:: else ->
		unsaved[s] = 0;
		if :: owner[c] == s -> drop_owner(c) :: else -> skip fi;
		if :: !BUG_FORGET_KEEPS_LAST_CPU -> last_cpu[s] = NOCPU :: else -> skip fi
	fi
}

/* fpu__save_regs(): registers -> S, valid(S) afterwards */
inline save_regs(c, s)
{
	write_regs(c, s);
	owner[c] = s; last_cpu[s] = c; unsaved[s] = 0
}

/* fpu__flush_owner(), fpu__flush_owner_slow() */
inline flush_owner(c)
{
	fo = owner[c];
	if
	:: fo != NOBUF && unsaved[fo] && last_cpu[fo] == c ->
		if
		:: BUG_FLUSH_ACTIVE_BUFFER && unsaved_ctx[c] != NOCTX &&
		   act[unsaved_ctx[c]] != fo ->
			write_regs(c, act[unsaved_ctx[c]]);
			unsaved[fo] = 0
		:: else -> save_regs(c, fo)
		fi
	:: else -> skip
	fi;
	fo = 0
}

/* fpu__sync_buffer(): S is about to be read or loaded here */
inline sync_buffer(c, s)
{
	if
	:: unsaved[s] && last_cpu[s] == c -> flush_owner(c)
	:: unsaved[s] && last_cpu[s] != c && !BUG_NO_REMOTE_FLUSH ->
		if :: !BUG_WAIT_HOLDING_UNSAVED -> flush_owner(c) :: else -> skip fi;
		/* the port's flush_remote: an IPI, then wait (sim/kernel/port.c) */
		t = last_cpu[s];
		req[t] = s; waiting[c] = 1; waits_on[c] = t;
		assert(!(waiting[t] && waits_on[t] == c));	/* no cycle of waiters */
		!(unsaved[s] && last_cpu[s] == t);
		waiting[c] = 0; waits_on[c] = 0; t = 0
	:: else -> skip
	fi
}

/* fpu__supersede() */
inline supersede(c, x)
{
	if
	:: unsaved[act[x]] ->
		unsaved[act[x]] = 0;
		if :: owner[c] == act[x] -> drop_owner(c) :: else -> skip fi;
		last_cpu[act[x]] = NOCPU
	:: else -> skip
	fi
}

/* fpu__load_regs(): S -> registers */
inline load_regs(c, s)
{
	flush_owner(c);
	sync_buffer(c, s);
	rid[c] = bid[s]; rv[c] = bv[s];
	owner[c] = s; last_cpu[s] = c; unsaved[s] = 0
}

/* flush_for_remote(): on the CPU holding the image (migration or IPI) */
inline flush_for_remote(c, s)
{
	if
	:: unsaved[s] && last_cpu[s] == c ->
		if
		:: owner[c] != s -> unsaved[s] = 0
		:: else -> flush_owner(c)
		fi
	:: else -> skip
	fi
}

/* fpu__make_regs_live() */
inline make_regs_live(c, x)
{
	ml = act[x];
	if
	:: SKIP_VALID && VALID(c, ml) -> unsaved[ml] = 0
	:: else -> load_regs(c, ml)
	fi;
	nl[x] = 0; ml = 0
}

/* fpu__defer_save() */
inline defer_save(c, x, s)
{
	owner[c] = s; last_cpu[s] = c; unsaved[s] = 1;
	if :: BUG_FLUSH_ACTIVE_BUFFER -> unsaved_ctx[c] = x :: else -> skip fi
}

/* ---- core/guest.c ----------------------------------------------------- */

/* swap_in(): the VMM's state goes away (G2), the guest's becomes active (G1) */
inline swap_in(c)
{
	if
	:: (BUG_GUEST_SCRATCH && HAS_FPU(VMM)) || (!BUG_GUEST_SCRATCH && REGS_LIVE(VMM)) ->
		save_regs(c, act[VMM])	/* G2 */
	:: else -> skip
	fi;
	if
	:: BUG_GUEST_SAVE_TO_VMM -> stashed[VMM] = GB
	:: else -> stashed[VMM] = act[VMM]; act[VMM] = GB
	fi;
	nl[VMM] = 1
}

/* swap_out() */
inline swap_out(c)
{
	if
	:: REGS_LIVE(VMM) ->
		if
		:: DEFER_SAVE && act[VMM] == GB -> defer_save(c, VMM, GB)
		:: else -> save_regs(c, GB)
		fi
	:: else -> skip
	fi;
	if :: act[VMM] == GB -> act[VMM] = stashed[VMM] :: else -> skip fi;
	stashed[VMM] = NOBUF;
	nl[VMM] = 1
}

/* load_active() */
inline load_active(c)
{
	if
	:: BUG_GUEST_SAVE_TO_VMM && stashed[VMM] != NOBUF -> la = stashed[VMM]
	:: else -> la = act[VMM]
	fi;
	load_regs(c, la);
	nl[VMM] = 0; la = 0
}

/* fpu_guest_sched_out(): the switch-out notifier of a task in a run call */
inline guest_sched_out(c)
{
	if
	:: PER_ENTRY && stashed[VMM] != NOBUF ->
		swap_out(c);
		if :: KFPU_END_RESTORES -> load_active(c) :: else -> skip fi
	:: else -> skip
	fi
}

/* ---- core/fpu.c, section 2: fpu_switch() ------------------------------ */

inline fpu_switch(c, prev, next)
{
	if
	:: REGS_LIVE(prev) ->
		if
		:: DEFER_SAVE -> defer_save(c, prev, act[prev])
		:: else -> save_regs(c, act[prev])
		fi
	:: else -> skip
	fi;
	if
	:: BUG_KTHREAD_SAVE && prev == KT && last_user[c] != NOCTX && !HAS_FPU(prev) ->
		save_regs(c, act[last_user[c]])
	:: else -> skip
	fi;
	if :: BUG_KTHREAD_SAVE && next != KT -> last_user[c] = next :: else -> skip fi;
	/* I7: PKRU is written at every switch, never deferred */
	if :: prev != KT -> pk[prev] = pkreg[c] :: else -> skip fi;
	if :: next == KT -> pkreg[c] = 0 :: else -> pkreg[c] = pk[next] fi;
	if
	:: HAS_FPU(next) ->
		nl[next] = 1;
		if :: !DEFER_RESTORE -> make_regs_live(c, next) :: else -> skip fi
	:: else -> skip
	fi
}

/* ---- core/fpu.c, section 4: kernel FPU sections ------------------------ */

#if BUG_KFPU_IRQ_HELD
#define USABLE_IN_IRQ(c) (!in_kfpu[c])
#else
#define USABLE_IN_IRQ(c) (!in_kfpu[c] && !held[c])
#endif

/* fpu_kernel_begin(), once fpu_kernel_usable() said yes */
inline kernel_begin(c, x)
{
	in_kfpu[c] = 1;
	if
	:: REGS_LIVE(x) ->
		if :: !BUG_KFPU_NO_SAVE -> save_regs(c, act[x]) :: else -> skip fi;
		nl[x] = 1
	:: else -> skip
	fi;
	if :: !BUG_KFPU_NO_FLUSH -> flush_owner(c) :: else -> skip fi;
	drop_owner(c);
	rid[c] = SCRATCH; rv[c] = 0	/* the kernel's SIMD work */
}

/* fpu_kernel_end() */
inline kernel_end(c, x)
{
	in_kfpu[c] = 0;
	if
	:: KFPU_END_RESTORES && HAS_FPU(x) && nl[x] -> make_regs_live(c, x)
	:: else -> skip
	fi
}

/* ---- the CPUs ---------------------------------------------------------- */

/* fpu_exit_to_user() and the return to user space */
inline to_user(c, x)
{
	printf("@ %d user %d\n", c, x);
	if
	:: nl[x] -> held[c] = 1; make_regs_live(c, x); held[c] = 0
	:: else -> skip
	fi;
	fresh[x] = 0;
	assert(!nl[x]);				/* I5 */
	assert(REGS_ARE(c, act[x]));		/* user code runs on its own newest image */
	assert(pkreg[c] == tpk[x]);		/* I7 */
	mode[c] = USER
}

#define CAN_RUN(c, d)  ((d) != cur[c] && on[d] == NOCPU && (alive[d] || (d) == KT))
#define CAN_PUSH(c, d) (on[d] == NOCPU && alive[d] && unsaved[act[d]] && last_cpu[act[d]] == (c))
#define CAN_FORK(c)    (mode[c] == KERNEL && !in_kfpu[c] && cur[c] != KT && alive[cur[c]] && SETTLED(c) && \
			!(cur[c] == VMM && in_run))

proctype Cpu(byte c)
{
	byte x, d, fo, t, ml, la;

end:	do
	/* schedule: switch to another context (preemption from user or guest
	 * mode too); a run call's switch-out notifier first (sim/kernel/sched.c) */
	:: atomic {
		if
		:: !in_kfpu[c] && SETTLED(c) && CAN_RUN(c, 0) -> d = 0
		:: !in_kfpu[c] && SETTLED(c) && CAN_RUN(c, 1) -> d = 1
		:: !in_kfpu[c] && SETTLED(c) && CAN_RUN(c, 2) -> d = 2
		:: !in_kfpu[c] && SETTLED(c) && CAN_RUN(c, 3) -> d = 3
		fi;
		x = cur[c];
		printf("@ %d switch %d %d\n", c, x, d);
		if :: x == VMM && in_run -> guest_sched_out(c) :: else -> skip fi;
		fpu_switch(c, x, d);
		on[x] = NOCPU; on[d] = c; cur[c] = d; mode[c] = KERNEL;
		/* SIM_ORDER: a task the simulator switches in goes back to user space
		 * at once (it resumes where its op blocked, or starts) */
		if :: SIM_ORDER && d != KT -> to_user(c, d) :: else -> skip fi;
		x = 0; d = 0;
		check() }

	/* fpu_migrate_out(): the scheduler lets a switched-out task go
	 * elsewhere and writes back the image this CPU holds of it */
	:: atomic {
		if
		:: !in_kfpu[c] && !SIM_ORDER && !BUG_NO_REMOTE_FLUSH && CAN_PUSH(c, 0) -> d = 0
		:: !in_kfpu[c] && !SIM_ORDER && !BUG_NO_REMOTE_FLUSH && CAN_PUSH(c, 1) -> d = 1
		:: !in_kfpu[c] && !SIM_ORDER && !BUG_NO_REMOTE_FLUSH && CAN_PUSH(c, 2) -> d = 2
		fi;
		printf("@ %d push %d\n", c, d);
		flush_for_remote(c, act[d]);
		d = 0;
		check() }

	/* fpu_exit_to_user() and the return to user space */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] != KT && alive[cur[c]] &&
		    !(cur[c] == VMM && in_run) ->
		x = cur[c];
		to_user(c, x);
		x = 0;
		check() }

	/* user code changes its registers */
	:: atomic { mode[c] == USER ->
		x = cur[c];
		printf("@ %d dirty %d\n", c, x);
		assert(REGS_ARE(c, act[x]));
		assert(pkreg[c] == tpk[x]);
		tid[act[x]] = act[x]; tv[act[x]] = NEXTV(tv[act[x]]);
		rid[c] = tid[act[x]]; rv[c] = tv[act[x]];
		x = 0;
		check() }

#if F_PKRU
	/* user code writes PKRU (ctx 0 only, to keep the state space small) */
	:: atomic { mode[c] == USER && cur[c] == 0 ->
		printf("@ %d pkru 0\n", c);
		pkreg[c] = !pkreg[c]; tpk[0] = pkreg[c];
		check() }

#endif
	/* a system call, a fault: into the kernel */
	:: atomic { mode[c] == USER -> printf("@ %d syscall %d\n", c, cur[c]); mode[c] = KERNEL }

	/* a kernel FPU section in task context: begin, (interrupts), end */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && SETTLED(c) && (!SIM_ORDER || cur[c] != KT) ->
		printf("@ %d kfpu_begin %d\n", c, cur[c]);
		kernel_begin(c, cur[c]);
		check() };
	   atomic {
		printf("@ %d kfpu_end %d\n", c, cur[c]);
		kernel_end(c, cur[c]);
		if :: cur[c] != KT -> fresh[cur[c]] = SIM_ORDER :: else -> skip fi;
		check() }

#if F_LIFE
	/* fork: a task forks into a dead one (fpu_fork) */
	:: atomic {
		if
		:: CAN_FORK(c) && !alive[0] && !forking[0] && on[0] == NOCPU -> d = 0
		:: CAN_FORK(c) && !alive[1] && !forking[1] && on[1] == NOCPU -> d = 1
		fi;
		/* the slot is taken now: the copy below may wait for a remote flush */
		forking[d] = 1;
		x = cur[c];
		printf("@ %d fork %d %d\n", c, x, d);
		held[c] = 1;
		forget_state(c, d);
		nl[d] = 1;
		tid[d] = tid[act[x]]; tv[d] = tv[act[x]];	/* the child's state: the parent's */
		if
		:: nl[x] && !BUG_FORK_SAVES_NEED_LOAD ->
			/* memory is authoritative once an unsaved image is back */
			sync_buffer(c, act[x]);
			bid[d] = bid[act[x]]; bv[d] = bv[act[x]]
		:: else ->
			/* live: save straight into the child's buffer, owner unchanged */
			write_regs(c, d)
		fi;
		pk[d] = pkreg[c]; tpk[d] = pkreg[c];
		alive[d] = 1; has_frame[d] = 0; forking[d] = 0; fresh[x] = SIM_ORDER;
		held[c] = 0; x = 0; d = 0;
		check() }

	/* exec (fpu_exec) */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] != KT && alive[cur[c]] && SETTLED(c) &&
		    !(cur[c] == VMM && in_run) ->
		x = cur[c];
		printf("@ %d exec %d\n", c, x);
		forget_state(c, act[x]);
		bid[act[x]] = INIT; bv[act[x]] = 0;
		tid[act[x]] = INIT; tv[act[x]] = 0;
		nl[x] = 1;
		pk[x] = 0; tpk[x] = 0; pkreg[c] = 0;
		has_frame[x] = 0; fresh[x] = SIM_ORDER; x = 0;
		check() }

	/* exit (fpu_exit); the CPU then switches away */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] < VMM && alive[cur[c]] && SETTLED(c) ->
		x = cur[c];
		printf("@ %d exit %d\n", c, x);
		forget_state(c, act[x]);
		nl[x] = 1;
		if :: last_user[c] == x -> last_user[c] = NOCTX :: else -> skip fi;
		alive[x] = 0; has_frame[x] = 0;
		/* its state is nobody's now: whatever the buffer holds is "true"
		 * (eager's kernel_end may reload it, and a later section save it) */
		tid[act[x]] = bid[act[x]]; tv[act[x]] = bv[act[x]];
		x = 0;
		check() }

#endif
#if F_SIGNAL
	/* signal delivery: the frame is written from the registers, loaded
	 * first if NEED_LOAD (save_to_user), a hard interrupt may come before
	 * the XSAVE; then the handler starts from the reset state
	 * (fpu_signal_reset) */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] != KT && alive[cur[c]] && SETTLED(c) &&
		    !(cur[c] == VMM && in_run) && !has_frame[cur[c]] ->
		x = cur[c];
		printf("@ %d signal %d\n", c, x);
		held[c] = 1;
		if :: !REGS_LIVE(x) -> make_regs_live(c, x) :: else -> skip fi;
		x = 0;
		check() };
	   atomic {
		x = cur[c];
		printf("@ %d signal_frame %d\n", c, x);
		assert(REGS_ARE(c, act[x]));		/* the frame gets the live state */
		fid[x] = rid[c]; fv[x] = rv[c]; has_frame[x] = 1;
		held[c] = 0;
		/* fpu_signal_reset() */
		supersede(c, x);
		flush_owner(c);
		drop_owner(c);
		rid[c] = INIT; rv[c] = 0; pkreg[c] = 0; pk[x] = 0; tpk[x] = 0;
		tid[act[x]] = INIT; tv[act[x]] = 0;
		nl[x] = 0; fresh[x] = SIM_ORDER; x = 0;
		check() }

	/* sigreturn (fpu_signal_restore): the frame becomes the live state */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] != KT && alive[cur[c]] && SETTLED(c) &&
		    !(cur[c] == VMM && in_run) && has_frame[cur[c]] ->
		x = cur[c];
		printf("@ %d sigreturn %d\n", c, x);
		supersede(c, x);
		flush_owner(c);
		if :: !BUG_SIGRETURN_KEEPS_OWNER -> drop_owner(c) :: else -> skip fi;
		rid[c] = fid[x]; rv[c] = fv[x];
		tid[act[x]] = fid[x]; tv[act[x]] = fv[x];
		has_frame[x] = 0; fid[x] = 0; fv[x] = 0;
		nl[x] = 0; fresh[x] = SIM_ORDER; x = 0;
		check() }

#endif
#if F_GUEST
	/* the VMM creates its vCPU (fpu_guest_init) */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] == VMM && !in_run ->
		printf("@ %d guest_init\n", c);
		last_cpu[GB] = NOCPU; unsaved[GB] = 0;		/* fpu_state_setup() */
		if :: !BUG_GUEST_INIT_NO_COPY -> bid[GB] = INIT; bv[GB] = 0 :: else -> skip fi;
		tid[GB] = INIT; tv[GB] = 0;
		check() }

	/* the VMM sets the guest's registers (fpu_guest_set) */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] == VMM && !in_run ->
		printf("@ %d guest_set\n", c);
		if :: !BUG_GUEST_SET_KEEPS_LAST_CPU -> last_cpu[GB] = NOCPU :: else -> skip fi;
		unsaved[GB] = 0;
		tid[GB] = GB; tv[GB] = NEXTV(tv[GB]);
		bid[GB] = tid[GB]; bv[GB] = tv[GB];
		check() }

	/* the VMM reads the guest's registers (fpu_guest_get) */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] == VMM && !in_run ->
		printf("@ %d guest_get\n", c);
		held[c] = 1;
		sync_buffer(c, GB);
		assert(BUF_IS_TRUE(GB));
		held[c] = 0;
		check() }

	/* fpu_guest_run_begin() */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] == VMM && !in_run ->
		printf("@ %d run_begin\n", c);
		in_run = 1;
		if
		:: !PER_ENTRY ->
			swap_in(c);
			if :: BUG_GUEST_ENTER_NO_RELOAD -> load_active(c) :: else -> skip fi
		:: else -> skip
		fi;
		check() }

	/* fpu_guest_enter() and VM entry */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] == VMM && in_run ->
		printf("@ %d guest_enter\n", c);
		if
		:: PER_ENTRY ->
			if :: stashed[VMM] == NOBUF -> swap_in(c) :: else -> skip fi;
			if :: nl[VMM] -> load_active(c) :: else -> skip fi
		:: !PER_ENTRY && BUG_GUEST_ENTER_NO_RELOAD -> skip
		:: !PER_ENTRY && !BUG_GUEST_ENTER_NO_RELOAD && !nl[VMM] -> skip
		:: !PER_ENTRY && !BUG_GUEST_ENTER_NO_RELOAD && nl[VMM] ->
			if
			:: BUG_GUEST_SAVE_TO_VMM -> load_active(c)
			:: else -> make_regs_live(c, VMM)	/* G3 */
			fi
		fi;
		assert(REGS_ARE(c, GB));	/* G3: the guest runs on its own newest image */
		mode[c] = GUEST;
		check() }

	/* guest code changes its registers */
	:: atomic { mode[c] == GUEST ->
		printf("@ %d guest_dirty\n", c);
		assert(REGS_ARE(c, GB));
		tid[GB] = GB; tv[GB] = NEXTV(tv[GB]);
		rid[c] = tid[GB]; rv[c] = tv[GB];
		check() }

	/* VM exit */
	:: atomic { mode[c] == GUEST -> printf("@ %d vm_exit\n", c); mode[c] = KERNEL }

	/* fpu_guest_run_end() */
	:: atomic { mode[c] == KERNEL && !in_kfpu[c] && cur[c] == VMM && in_run ->
		printf("@ %d run_end\n", c);
		if :: stashed[VMM] != NOBUF -> swap_out(c) :: else -> skip fi;
		in_run = 0;
		check() }
#endif
	od
}

/* Hard interrupts of CPU c: a kernel FPU section (refused when nested or
 * when the interrupted code holds the FPU lock: then it is simply not
 * enabled, a refused attempt changes nothing), and the flush IPI
 * (fpu_flush_ipi: answered only outside a region holding the lock). */
proctype Irq(byte c)
{
	byte fo, t, ml, la, x;

end:	do
	:: atomic { USABLE_IN_IRQ(c) && (!SIM_ORDER || CAN_SEND(c)) ->
		x = cur[c];
		printf("@ %d irq_kfpu %d\n", c, x);
		kernel_begin(c, x);
		kernel_end(c, x);
		if
		:: SIM_ORDER && SENDS(c) -> fresh[cur[c]] = 1
		:: SIM_ORDER && !SENDS(c) -> fresh[cur[1 - c]] = 1
		:: else -> skip
		fi;
		if :: mode[c] != KERNEL -> mode[c] = KERNEL :: else -> skip fi;	/* VM exit or entry from user */
		x = 0;
		check() }
	:: atomic { req[c] != NOBUF && !held[c] ->
		printf("@ %d irq_flush %d\n", c, req[c]);
		flush_for_remote(c, req[c]);
		req[c] = NOBUF;
		check() }
	od
}

init {
	atomic {
		for (i : 0 .. NCTX - 1) {
			act[i] = i; stashed[i] = NOBUF; on[i] = NOCPU;
			nl[i] = 1; alive[i] = (i != KT)
		}
		act[KT] = KB;
		for (k : 0 .. NBUF - 1) {
			bid[k] = INIT; tid[k] = INIT; last_cpu[k] = NOCPU
		}
		for (i : 0 .. NCPU - 1) {
			rid[i] = SCRATCH; owner[i] = NOBUF; unsaved_ctx[i] = NOCTX;
			last_user[i] = NOCTX; req[i] = NOBUF
		}
		cur[0] = 0; on[0] = 0; fresh[0] = SIM_ORDER;
		cur[1] = KT; on[KT] = 1;
		i = 0; k = 0;
		run Cpu(0); run Cpu(1); run Irq(0); run Irq(1)
	}
}
