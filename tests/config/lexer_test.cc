#include "config/lexer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace warpdns::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* FakeEnv(const char* name) {
  if (std::strcmp(name, "PORT") == 0) return "8053";
  if (std::strcmp(name, "ADDRESS") == 0) return "example.org";
  if (std::strcmp(name, "SPACED") == 0) return "a b";
  if (std::strcmp(name, "BRACE") == 0) return "{";
  if (std::strcmp(name, "NESTED") == 0) return "{$PORT}";
  return nullptr;
}

std::vector<LexToken> LexOk(std::string_view text) {
  std::vector<LexToken> tokens;
  std::string error;
  EXPECT_TRUE(Lex(text, "Corefile", FakeEnv, &tokens, &error)) << error;
  return tokens;
}

std::vector<std::string> Texts(const std::vector<LexToken>& tokens) {
  std::vector<std::string> texts;
  for (const LexToken& t : tokens) texts.push_back(t.token.text);
  return texts;
}

std::vector<int> Lines(const std::vector<LexToken>& tokens) {
  std::vector<int> lines;
  for (const LexToken& t : tokens) lines.push_back(t.token.line);
  return lines;
}

TEST(LexerTest, EmptyAndBlankInputs) {
  EXPECT_TRUE(LexOk("").empty());
  EXPECT_TRUE(LexOk("\n").empty());
  EXPECT_TRUE(LexOk(" \t\n\r\n").empty());
  EXPECT_TRUE(LexOk("# only a comment\n   # another").empty());
}

TEST(LexerTest, WhitespaceSeparatedTokensWithLines) {
  auto tokens = LexOk("a b c\nd e\n\n  f");
  EXPECT_THAT(Texts(tokens), ElementsAre("a", "b", "c", "d", "e", "f"));
  EXPECT_THAT(Lines(tokens), ElementsAre(1, 1, 1, 2, 2, 4));
  EXPECT_EQ(tokens[0].token.file, "Corefile");
}

TEST(LexerTest, StartsLineMarksFirstTokenOfEachLine) {
  auto tokens = LexOk("a b\n  c\nd e");
  std::vector<bool> starts;
  for (const auto& t : tokens) starts.push_back(t.starts_line);
  EXPECT_THAT(starts, ElementsAre(true, false, true, true, false));
}

TEST(LexerTest, CarriageReturnsAreIgnored) {
  auto tokens = LexOk("a b\r\nc\r\n");
  EXPECT_THAT(Texts(tokens), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Lines(tokens), ElementsAre(1, 1, 2));
  // Even inside a token, as in Caddy.
  EXPECT_THAT(Texts(LexOk("ab\rcd")), ElementsAre("abcd"));
}

TEST(LexerTest, CommentsAnywhereOutsideQuotes) {
  auto tokens = LexOk("a # comment { }\nb#tail\n\"c # not a comment\"");
  EXPECT_THAT(Texts(tokens), ElementsAre("a", "b", "c # not a comment"));
  EXPECT_THAT(Lines(tokens), ElementsAre(1, 2, 3));
}

TEST(LexerTest, QuotedTokens) {
  auto tokens = LexOk(R"(a "b c" "" "x\"y" "a\b" "back\\")");
  EXPECT_THAT(Texts(tokens), ElementsAre("a", "b c", "", "x\"y", "a\\b", "back\\\\"));
  EXPECT_FALSE(tokens[0].token.quoted);
  EXPECT_TRUE(tokens[1].token.quoted);
  EXPECT_TRUE(tokens[2].token.quoted);
}

TEST(LexerTest, QuoteOnlyOpensAtTokenStartAndClosesTheToken) {
  EXPECT_THAT(Texts(LexOk(R"(a"b" "c"d)")), ElementsAre("a\"b\"", "c", "d"));
}

TEST(LexerTest, QuotedTokenSpansLinesAndKeepsItsStartLine) {
  auto tokens = LexOk("a \"line one\nline two\" b\nc");
  EXPECT_THAT(Texts(tokens), ElementsAre("a", "line one\nline two", "b", "c"));
  EXPECT_THAT(Lines(tokens), ElementsAre(1, 1, 2, 3));
  EXPECT_EQ(tokens[1].end_line, 2);
  // "b" is on the line where the quoted token ended: not a new line.
  EXPECT_FALSE(tokens[2].starts_line);
  EXPECT_TRUE(tokens[3].starts_line);
}

TEST(LexerTest, BracesOnlyWhenStandingAlone) {
  auto tokens = LexOk("a { b{ }c \"{\" }");
  EXPECT_THAT(Texts(tokens), ElementsAre("a", "{", "b{", "}c", "{", "}"));
  EXPECT_TRUE(tokens[1].open_brace);
  EXPECT_FALSE(tokens[2].open_brace);
  EXPECT_FALSE(tokens[3].close_brace);
  EXPECT_FALSE(tokens[4].open_brace);  // quoted: a literal
  EXPECT_TRUE(tokens[5].close_brace);
}

TEST(LexerTest, UnicodeSpacesSeparateTokens) {
  // NBSP and ideographic space (the hex escapes end at the next literal).
  const std::string text = std::string("a\xC2\xA0") + "b\xE3\x80\x80" + "c";
  EXPECT_THAT(Texts(LexOk(text)), ElementsAre("a", "b", "c"));
}

TEST(LexerTest, EnvironmentSubstitution) {
  auto tokens = LexOk("{$ADDRESS}:{$PORT} {%ADDRESS%}:{$PORT} x{$UNSET}y {$SPACED} \"q {$PORT}\"");
  EXPECT_THAT(Texts(tokens),
              ElementsAre("example.org:8053", "example.org:8053", "xy", "a b", "q 8053"));
}

TEST(LexerTest, EnvironmentValuesAreNotRetokenised) {
  auto tokens = LexOk("{$BRACE} {$SPACED}");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].token.text, "{");
  EXPECT_FALSE(tokens[0].open_brace);
  EXPECT_EQ(tokens[1].token.text, "a b");
}

TEST(LexerTest, MalformedReferencesStayLiteral) {
  EXPECT_EQ(SubstituteEnv("{%ADDRESS}", FakeEnv), "{%ADDRESS}");
  EXPECT_EQ(SubstituteEnv("{$}", FakeEnv), "{$}");
  EXPECT_EQ(SubstituteEnv("{$PORT", FakeEnv), "{$PORT");
  EXPECT_EQ(SubstituteEnv(":{$PORT$}", FakeEnv), ":");  // the name "PORT$" is unset
  EXPECT_EQ(SubstituteEnv("{{ .Name }} {$ADDRESS}", FakeEnv), "{{ .Name }} example.org");
}

TEST(LexerTest, WindowsFormFirstThenUnixForm) {
  // The {%...%} pass runs first, so its value is seen by the {$...} pass.
  EXPECT_EQ(SubstituteEnv("{%NESTED%}", FakeEnv), "8053");
  // Within one pass a value is inserted verbatim.
  EXPECT_EQ(SubstituteEnv("{$NESTED}", FakeEnv), "{$PORT}");
}

TEST(LexerTest, ProcessEnvironmentByDefault) {
  setenv("WARPDNS_LEXER_TEST", "from-env", 1);
  std::vector<LexToken> tokens;
  std::string error;
  ASSERT_TRUE(Lex("{$WARPDNS_LEXER_TEST}", "f", nullptr, &tokens, &error));
  EXPECT_EQ(tokens[0].token.text, "from-env");
}

TEST(LexerTest, UnclosedQuoteNamesTheLineItStarts) {
  std::vector<LexToken> tokens;
  std::string error;
  EXPECT_FALSE(Lex("a\nb \"open\nmore\nlines", "conf/Corefile", FakeEnv, &tokens, &error));
  EXPECT_THAT(error, HasSubstr("conf/Corefile:2 - Error during parsing: Unclosed quote"));
  EXPECT_FALSE(Lex("a \"x\\\"", "f", FakeEnv, &tokens, &error));  // \" does not close
}

}  // namespace
}  // namespace warpdns::config
