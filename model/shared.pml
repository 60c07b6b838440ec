/*
 * I10, the cross-CPU fields of one buffer (core/fpu.c), with each library
 * step split into the stores it really makes, so that other CPUs run
 * between them. fpu.pml treats a library call as one atomic step and so
 * cannot see this; the ring-0 port found the first bug below.
 *
 * One task's buffer S. The task runs on one CPU at a time: it makes its
 * state live there (a skipped restore, or a load after any unsaved image of
 * S is written back), checks it holds its newest image, changes it, then
 * leaves the CPU with its image unsaved (the deferred policy), or replaces
 * its state outright (a sigreturn or exec: the unsaved image is discarded).
 * Every CPU may, at any time, write back the unsaved image it holds (it
 * loads something else, or answers a flush), and may lose S's image from
 * its registers once it is saved.
 *
 * Asserted: the task always finds its newest image (no stale load, no
 * lost write-back); a CPU that writes back holds the newest image (I9);
 * nobody waits forever (SPIN's end states).
 *
 * Mutants (-DNAME=1), each of which must fail:
 *   UNORDERED  a write-back says "saved" before "by which CPU"
 *              (the test-only bug publish-unordered)
 *   NO_CLAIM   the write-back does not claim the image: a discard and a
 *              write-back both go ahead
 *   NO_WAIT    a discard that finds a write-back under way does not wait
 */
#define NCPU  3
#define MAXV  8          /* versions of the task's state: bounds the search */
#define NONE  255

#define SAVED        0
#define UNSAVED      1
#define WRITING_BACK 2

byte unsaved = SAVED;
byte last_cpu = NONE;      /* NONE: no CPU */
byte mem = 0;              /* the version the buffer holds */
byte regs[NCPU];           /* the version of S in each CPU's registers, NONE: not S's */
bool owner[NCPU];          /* the CPU's owner pointer names S */
byte newest = 0;           /* the task's newest version */
bool task_done = false;
bool busy[NCPU];           /* the CPU's one flow is taken: by the task, or by a write-back */

/* fpu__publish: last_cpu first, then unsaved (release) */
inline publish(cpu, u)
{
	last_cpu = cpu;
	unsaved = u
}

/* fpu__discard_unsaved: take the image from its holder, or wait for the
 * holder's write-back to end */
inline discard()
{
	do
	:: atomic { unsaved == UNSAVED -> unsaved = SAVED }; break
	:: atomic { unsaved == SAVED -> skip }; break
#if NO_WAIT
	:: atomic { unsaved == WRITING_BACK -> unsaved = SAVED }; break
#else
	:: unsaved == WRITING_BACK -> (unsaved != WRITING_BACK)
#endif
	od
}

/* fpu__flush_owner on CPU h: write back the unsaved image S has there.
 * The test of last_cpu and the claim are one step here; in the library the
 * claim is the compare-and-swap, and last_cpu is only ever h's own value
 * or another CPU's newer one. */
inline write_back(h)
{
	if
#if NO_CLAIM
#define CLAIMABLE(h) (owner[h] && last_cpu == h && unsaved != SAVED)
	:: atomic { CLAIMABLE(h) -> skip };
#else
#define CLAIMABLE(h) (owner[h] && last_cpu == h && unsaved == UNSAVED)
	:: atomic { CLAIMABLE(h) -> unsaved = WRITING_BACK };
#endif
		assert(regs[h] == newest);     /* I9: the newest image is here */
		mem = regs[h];                 /* XSAVE */
#if UNORDERED
		unsaved = SAVED;
		last_cpu = h
#else
		publish(h, SAVED)
#endif
	:: atomic { !CLAIMABLE(h) -> skip }   /* not here, or discarded first */
	fi
}

proctype cpu_side(byte h)
{
	do
	:: task_done -> break
	:: atomic { !busy[h] && owner[h] && unsaved != SAVED && last_cpu == h -> busy[h] = true };
		write_back(h);
		busy[h] = false
	:: atomic { !busy[h] && owner[h] && (unsaved == SAVED || last_cpu != h) ->
		owner[h] = false; regs[h] = NONE }   /* loads something else */
	od
}

proctype task()
{
	byte c = 0, next;

	do
	:: newest >= MAXV -> break
	:: newest < MAXV ->
		atomic { !busy[c] -> busy[c] = true };   /* the task's, till it leaves */
		if
		:: /* switched in: its state made live on c */
			if
			:: owner[c] && last_cpu == c ->     /* valid: the restore is skipped */
				publish(c, SAVED)
			:: !(owner[c] && last_cpu == c) ->
				if                               /* sync_buffer */
				:: unsaved != SAVED && last_cpu == c -> skip; write_back(c)
				:: unsaved != SAVED && last_cpu != c -> (unsaved == SAVED)  /* remote flush */
				:: unsaved == SAVED -> skip
				fi;
				regs[c] = mem;                   /* XRSTOR */
				owner[c] = true;
				publish(c, SAVED)
			fi;
			assert(regs[c] == newest)           /* its newest image, nothing older */
		:: /* a sigreturn (or exec) on c replaces its state, which may be
		    * unsaved on another CPU: discarded, never written back */
			if
			:: unsaved != SAVED -> skip; discard()
			:: unsaved == SAVED -> skip
			fi;
			publish(NONE, SAVED);
			owner[c] = false;
			newest++;
			regs[c] = newest                    /* the frame's state, live */
		fi;
		newest++;                                 /* it runs */
		regs[c] = newest;
		owner[c] = true;                          /* switched out: the save deferred */
		publish(c, UNSAVED);
		busy[c] = false;
		if
		:: next = 0
		:: next = 1
		:: next = 2
		fi;
		c = next
	od;
	task_done = true
}

init
{
	byte i;

	atomic {
		for (i : 0 .. NCPU - 1) {
			regs[i] = NONE;
			owner[i] = false
		}
		run task();
		for (i : 0 .. NCPU - 1) {
			run cpu_side(i)
		}
	}
}
