//! The simulated address space of one [`SimulatedOs`](super::SimulatedOs):
//! mappings placed by a bump counter in a fixed fake range (never reused,
//! one unmapped guard page after each), their bytes in sparse stores of
//! whole pages (a page never written reads as zeros and costs nothing),
//! and page protections as interval maps. Nothing here touches real memory.

use std::collections::BTreeMap;
use std::io;

use orc_rt::sps::memory::MemProt;

/// One mapping.
struct MappingState {
    /// The length asked for (what `range()` reports).
    len: u64,
    /// The length rounded up to whole pages: what is accessible.
    extent: u64,
    /// Protection by page-aligned offset; each entry holds up to the next
    /// one (or the extent). Offset 0 always has an entry.
    prot: BTreeMap<u64, MemProt>,
    /// The store holding the bytes (shared mappings share their object's).
    store: u64,
    /// For the mapping that created a shared-memory object: its name,
    /// unlinked when the mapping goes (as a real `Region` does).
    owns_name: Option<String>,
}

/// The bytes of a private mapping or of a shared-memory object.
struct Store {
    /// Pages ever written, by index (offset / page size).
    pages: BTreeMap<u64, Box<[u8]>>,
    /// The object's size (a private mapping's extent).
    len: u64,
    /// Mappings showing this store.
    mappings: usize,
}

/// Zeroes `[from, to)` (offsets, less than two pages apart) in the pages
/// that exist.
fn zero_part(pages: &mut BTreeMap<u64, Box<[u8]>>, page: u64, from: u64, to: u64) {
    let mut cur = from;
    while cur < to {
        let at = (cur % page) as usize;
        let n = (page - cur % page).min(to - cur) as usize;
        if let Some(bytes) = pages.get_mut(&(cur / page)) {
            bytes[at..at + n].fill(0);
        }
        cur += n as u64;
    }
}

/// See the module docs.
pub(super) struct AddressSpace {
    page: u64,
    /// Where the next mapping goes.
    next: u64,
    /// The end of the range mappings may take.
    end: u64,
    mappings: BTreeMap<u64, MappingState>,
    stores: BTreeMap<u64, Store>,
    next_store: u64,
    /// Shared-memory objects by name.
    names: BTreeMap<String, u64>,
}

fn os_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

impl AddressSpace {
    /// An empty space whose mappings go to `[start, end)`.
    pub(super) fn new(page: u64, start: u64, end: u64) -> AddressSpace {
        AddressSpace {
            page,
            next: start,
            end,
            mappings: BTreeMap::new(),
            stores: BTreeMap::new(),
            next_store: 0,
            names: BTreeMap::new(),
        }
    }

    /// Places a mapping of `len` bytes with protection `prot` over `store`.
    fn place(&mut self, len: u64, prot: MemProt, store: u64) -> io::Result<u64> {
        if len == 0 {
            return Err(os_error(libc::EINVAL));
        }
        let extent = len
            .checked_next_multiple_of(self.page)
            .ok_or_else(|| os_error(libc::ENOMEM))?;
        // One guard page after each mapping, so an overrun reads nothing.
        let taken = extent
            .checked_add(self.page)
            .and_then(|t| self.next.checked_add(t))
            .filter(|&after| after <= self.end)
            .ok_or_else(|| os_error(libc::ENOMEM))?;
        let base = self.next;
        self.next = taken;
        self.mappings.insert(
            base,
            MappingState {
                len,
                extent,
                prot: BTreeMap::from([(0, prot)]),
                store,
                owns_name: None,
            },
        );
        if let Some(s) = self.stores.get_mut(&store) {
            s.mappings += 1;
        }
        Ok(base)
    }

    fn new_store(&mut self, len: u64) -> u64 {
        let id = self.next_store;
        self.next_store += 1;
        self.stores.insert(
            id,
            Store {
                pages: BTreeMap::new(),
                len,
                mappings: 0,
            },
        );
        id
    }

    /// Maps `len` private bytes read+write; returns the base.
    pub(super) fn map_private(&mut self, len: u64) -> io::Result<u64> {
        let extent = len.checked_next_multiple_of(self.page).unwrap_or(u64::MAX);
        let store = self.new_store(extent);
        let placed = self.place(len, MemProt::READ | MemProt::WRITE, store);
        if placed.is_err() {
            self.stores.remove(&store);
        }
        placed
    }

    /// Creates the shared object `name` of `len` bytes and maps it with no
    /// access; returns the base.
    pub(super) fn map_shared(&mut self, name: &str, len: u64) -> io::Result<u64> {
        if name.contains('\0') {
            return Err(os_error(libc::EINVAL));
        }
        if len == 0 {
            return Err(os_error(libc::EINVAL));
        }
        if self.names.contains_key(name) {
            return Err(os_error(libc::EEXIST));
        }
        let store = self.new_store(len);
        match self.place(len, MemProt::NONE, store) {
            Ok(base) => {
                self.names.insert(name.to_owned(), store);
                if let Some(m) = self.mappings.get_mut(&base) {
                    m.owns_name = Some(name.to_owned());
                }
                Ok(base)
            }
            Err(e) => {
                self.stores.remove(&store);
                Err(e)
            }
        }
    }

    /// Unmaps the mapping at `base`; true if it had created a shared object.
    pub(super) fn unmap(&mut self, base: u64) -> bool {
        let Some(m) = self.mappings.remove(&base) else {
            return false;
        };
        let created = m.owns_name.is_some();
        if let Some(name) = m.owns_name
            && self.names.get(&name) == Some(&m.store)
        {
            self.names.remove(&name);
        }
        if let Some(s) = self.stores.get_mut(&m.store) {
            s.mappings -= 1;
        }
        self.collect(m.store);
        created
    }

    /// Removes the name of a shared object (the controller's `shm_unlink`).
    pub(super) fn unlink(&mut self, name: &str) -> io::Result<()> {
        let store = self
            .names
            .remove(name)
            .ok_or_else(|| os_error(libc::ENOENT))?;
        self.collect(store);
        Ok(())
    }

    /// Frees a store nothing shows or names any more.
    fn collect(&mut self, store: u64) {
        let unused = self.stores.get(&store).is_some_and(|s| s.mappings == 0)
            && !self.names.values().any(|&s| s == store);
        if unused {
            self.stores.remove(&store);
        }
    }

    /// The live mappings, by address: `(base, len)`.
    pub(super) fn mappings(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.mappings.iter().map(|(&b, m)| (b, m.len))
    }

    /// The mapping containing `addr`: its base and state.
    fn mapping_at(&self, addr: u64) -> Option<(u64, &MappingState)> {
        let (&base, m) = self.mappings.range(..=addr).next_back()?;
        (addr - base < m.extent).then_some((base, m))
    }

    /// Whether every byte of `[addr, addr + len)` is mapped with at least
    /// `need`.
    pub(super) fn accessible(&self, addr: u64, len: u64, need: MemProt) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let mut cur = addr;
        while cur < end {
            let Some((base, m)) = self.mapping_at(cur) else {
                return false;
            };
            let off = cur - base;
            let (_, &prot) = m
                .prot
                .range(..=off)
                .next_back()
                .expect("offset 0 has an entry");
            if !prot.contains(need) {
                return false;
            }
            let until = m.prot.range(off + 1..).next().map_or(m.extent, |(&k, _)| k);
            cur = base + until;
        }
        true
    }

    /// Calls `f(store pages, page index, offset in page, range of the
    /// buffer)` for each page-sized piece of `[addr, addr + len)`, which is
    /// mapped (checked by the caller).
    fn pieces(&self, addr: u64, len: usize) -> Vec<(u64, u64, usize, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        let mut done = 0usize;
        while done < len {
            let cur = addr + done as u64;
            let (base, m) = self.mapping_at(cur).expect("checked by the caller");
            let off = cur - base;
            let in_page = (off % self.page) as usize;
            let n = (self.page as usize - in_page).min(len - done);
            out.push((m.store, off / self.page, in_page, done..done + n));
            done += n;
        }
        out
    }

    /// Copies `[addr, addr + buf.len())`, which is mapped, into `buf`.
    pub(super) fn copy_out(&self, addr: u64, buf: &mut [u8]) {
        for (store, page, at, range) in self.pieces(addr, buf.len()) {
            let n = range.len();
            match self.stores[&store].pages.get(&page) {
                Some(bytes) => buf[range].copy_from_slice(&bytes[at..at + n]),
                None => buf[range].fill(0),
            }
        }
    }

    /// Copies `bytes` to `[addr, addr + bytes.len())`, which is mapped.
    pub(super) fn copy_in(&mut self, addr: u64, bytes: &[u8]) {
        let page = self.page as usize;
        for (store, index, at, range) in self.pieces(addr, bytes.len()) {
            let n = range.len();
            let pages = &mut self.stores.get_mut(&store).expect("live store").pages;
            let dst = pages
                .entry(index)
                .or_insert_with(|| vec![0u8; page].into_boxed_slice());
            dst[at..at + n].copy_from_slice(&bytes[range]);
        }
    }

    /// Zeroes `[addr, addr + len)` of the mapping at `base` (inside it:
    /// checked by the caller). Whole pages are dropped from the store: they
    /// read as zeros again and cost nothing.
    pub(super) fn zero(&mut self, base: u64, addr: u64, len: u64) {
        let page = self.page;
        let Some(m) = self.mappings.get(&base) else {
            return;
        };
        let pages = &mut self.stores.get_mut(&m.store).expect("live store").pages;
        let (start, end) = (addr - base, addr - base + len);
        let (whole_start, whole_end) = (start.next_multiple_of(page), end / page * page);
        if whole_start < whole_end {
            let whole: Vec<u64> = pages
                .range(whole_start / page..whole_end / page)
                .map(|(&k, _)| k)
                .collect();
            for k in whole {
                pages.remove(&k);
            }
            zero_part(pages, page, start, whole_start);
            zero_part(pages, page, whole_end, end);
        } else {
            zero_part(pages, page, start, end);
        }
    }

    /// Sets the protection of the pages covering `[addr, addr + len)` of the
    /// mapping at `base` (inside it: checked by the caller), clipped to it.
    pub(super) fn protect(&mut self, base: u64, addr: u64, len: u64, prot: MemProt) {
        let page = self.page;
        let Some(m) = self.mappings.get_mut(&base) else {
            return;
        };
        let start = (addr - base) / page * page;
        let end = (addr - base + len).next_multiple_of(page).min(m.extent);
        if end <= start {
            return;
        }
        let after =
            (end < m.extent).then(|| *m.prot.range(..=end).next_back().expect("offset 0").1);
        let inside: Vec<u64> = m.prot.range(start..end).map(|(&k, _)| k).collect();
        for k in inside {
            m.prot.remove(&k);
        }
        m.prot.insert(start, prot);
        if let Some(after) = after {
            m.prot.entry(end).or_insert(after);
        }
    }

    /// The shared object `name`: its store and size.
    fn object(&self, name: &str) -> io::Result<(u64, u64)> {
        let &store = self.names.get(name).ok_or_else(|| os_error(libc::ENOENT))?;
        Ok((store, self.stores[&store].len))
    }

    /// Writes `bytes` at `offset` of the shared object `name`.
    pub(super) fn write_object(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let (store, len) = self.object(name)?;
        let end = offset
            .checked_add(bytes.len() as u64)
            .filter(|&e| e <= len)
            .ok_or_else(|| os_error(libc::EFAULT))?;
        let page = self.page;
        let pages = &mut self.stores.get_mut(&store).expect("live store").pages;
        let mut cur = offset;
        while cur < end {
            let at = (cur % page) as usize;
            let n = ((page - cur % page).min(end - cur)) as usize;
            let src = (cur - offset) as usize;
            pages
                .entry(cur / page)
                .or_insert_with(|| vec![0u8; page as usize].into_boxed_slice())[at..at + n]
                .copy_from_slice(&bytes[src..src + n]);
            cur += n as u64;
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset` of the shared object `name`.
    pub(super) fn read_object(&self, name: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let (store, size) = self.object(name)?;
        let end = offset
            .checked_add(len as u64)
            .filter(|&e| e <= size)
            .ok_or_else(|| os_error(libc::EFAULT))?;
        let page = self.page;
        let pages = &self.stores[&store].pages;
        let mut out = vec![0u8; len];
        let mut cur = offset;
        while cur < end {
            let at = (cur % page) as usize;
            let n = ((page - cur % page).min(end - cur)) as usize;
            let dst = (cur - offset) as usize;
            if let Some(bytes) = pages.get(&(cur / page)) {
                out[dst..dst + n].copy_from_slice(&bytes[at..at + n]);
            }
            cur += n as u64;
        }
        Ok(out)
    }

    /// Pages of real memory the stores hold (for tests: sparse means sparse).
    #[cfg(test)]
    pub(super) fn resident_pages(&self) -> usize {
        self.stores.values().map(|s| s.pages.len()).sum()
    }
}
