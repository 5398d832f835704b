package vfs

// Size is one more than the highest fd the table has ever had room for;
// select(2) sizes its scan from it as Linux does from the fd table's
// max_fds.
func (t *FDTable) Size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.files)
}
