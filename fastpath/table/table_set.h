// One published version of everything the fast path reads to answer: the
// publisher builds it aside and swaps it in with rcu::Published<TableSet>.
#ifndef WARPDNS_FASTPATH_TABLE_TABLE_SET_H_
#define WARPDNS_FASTPATH_TABLE_TABLE_SET_H_

#include <cstddef>
#include <cstdint>

#include "fastpath/table/generation.h"
#include "fastpath/table/answer_table.h"

namespace warpdns::fastpath {

struct TableSet {
  TableSet(size_t answer_slots, uint64_t generation) : answers(answer_slots, generation) {}

  // True while the data these tables were built from is still in force. A
  // data change bumps the generation at once, before the publisher has
  // swapped in new tables: readers treat the old ones as empty meanwhile.
  // Fast path: any thread; one load of a rarely written line.
  bool Current() const noexcept { return answers.generation() == DataGeneration(); }

  AnswerTable answers;
};

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_TABLE_SET_H_
