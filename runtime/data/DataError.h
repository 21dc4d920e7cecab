//===- DataError.h ----------------------------------------------*- C++ -*-===//
//
// The error type of the data library: the message names the file and line
// (or field) at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace gpt::data {

class DataError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace gpt::data
