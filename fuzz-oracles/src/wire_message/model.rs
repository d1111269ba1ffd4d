//! The controller's model of the executor's services: the reservations it
//! got (and, while untouched, their bytes), the keys and the library handles.

use orc_rt::addr::ExecutorAddr;

use super::input::Addr;

#[derive(Debug)]
pub(super) struct Reservation {
    pub(super) base: u64,
    pub(super) size: u64,
    /// A shared-memory mapper reservation (else the memory manager's).
    pub(super) shared: bool,
    /// Never touched by an initialize or an unpredictable write: its bytes
    /// are `bytes` and it is writable.
    fresh: bool,
    pub(super) bytes: Vec<u8>,
}

impl Reservation {
    fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.base
            && addr
                .checked_add(len)
                .is_some_and(|end| end <= self.base + self.size)
    }

    /// Whether it shares a byte with `[start, end)`.
    fn overlaps(&self, start: u64, end: u64) -> bool {
        start < self.base + self.size && self.base < end
    }
}

#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) live: Vec<Reservation>,
    pub(super) keys: Vec<u64>,
    pub(super) handles: Vec<ExecutorAddr>,
}

impl Model {
    pub(super) fn find(&self, addr: u64, len: u64) -> Option<usize> {
        self.live.iter().position(|r| r.contains(addr, len))
    }

    /// Marks every reservation overlapping `[addr, addr + len)` as touched.
    pub(super) fn touch(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len.max(1));
        for r in &mut self.live {
            if r.overlaps(addr, end) {
                r.fresh = false;
            }
        }
    }

    /// Records a reservation the executor granted: a memory manager's is
    /// fresh (zeros), a shared one opaque (the controller owns its
    /// contents). With `exact` (nothing else in flight) overlapping a live
    /// one is an error; otherwise the live one was released by a call whose
    /// answer comes later, and is forgotten.
    pub(super) fn add_reservation(
        &mut self,
        base: ExecutorAddr,
        size: u64,
        shared: bool,
        exact: bool,
    ) -> Result<(), String> {
        let (start, end) = (base.value(), base.value().saturating_add(size));
        if exact && self.live.iter().any(|r| r.overlaps(start, end)) {
            let what = if shared {
                "shared reservation"
            } else {
                "reservation"
            };
            return Err(format!("{what} {base} overlaps a live one"));
        }
        self.live.retain(|r| !r.overlaps(start, end));
        self.live.push(Reservation {
            base: start,
            size,
            shared,
            fresh: !shared,
            bytes: if shared {
                Vec::new()
            } else {
                vec![0; size as usize]
            },
        });
        Ok(())
    }

    /// A segment's address and size: the size modulo that of the
    /// reservation it starts in (a page if none) plus 17, so that it may
    /// run past the end.
    pub(super) fn segment(&self, addr: &Addr, size: u32) -> (ExecutorAddr, u64) {
        let addr = self.resolve(addr);
        let room = self
            .find(addr.value(), 0)
            .map_or(orc_executor::sys::page_size(), |i| self.live[i].size);
        (addr, u64::from(size) % (room + 17))
    }

    pub(super) fn resolve(&self, a: &Addr) -> ExecutorAddr {
        ExecutorAddr::new(match a {
            Addr::Null => 0,
            Addr::Raw(v) => *v,
            Addr::InReservation { index, offset } => match self.live.len() {
                0 => u64::from(*offset),
                n => {
                    let r = &self.live[*index as usize % n];
                    r.base + u64::from(*offset) % (r.size + 16)
                }
            },
            Addr::Key(i) => match self.keys.len() {
                0 => 0,
                n => self.keys[*i as usize % n],
            },
        })
    }

    /// All of `[addr, addr + len)` in one fresh reservation: its index.
    pub(super) fn fresh_at(&self, addr: u64, len: u64) -> Option<usize> {
        self.find(addr, len).filter(|&i| self.live[i].fresh)
    }
}

/// Every page of `[base, base + size)` is unmapped.
#[allow(unsafe_code, reason = "mincore probes")]
pub(super) fn unmapped(base: u64, size: u64) -> bool {
    let page = orc_executor::sys::page_size();
    let mut vec = [0u8; 1];
    (0..size.div_ceil(page)).all(|i| {
        // SAFETY: mincore only queries the kernel about the page; `vec` has
        // room for the one page asked about.
        let rc = unsafe {
            libc::mincore(
                (base + i * page) as usize as *mut libc::c_void,
                page as usize,
                vec.as_mut_ptr(),
            )
        };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOMEM)
    })
}
