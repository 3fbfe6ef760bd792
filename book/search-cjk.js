// Chinese words for mdBook's search (loaded by book.toml's additional-js).
//
// mdBook 0.5's search keeps only the letters a-z and the digits of a word: 粘包 is dropped both
// from the index and from what the reader types, so nothing Chinese can be found. Chinese has no
// spaces between words, so here, as in book/search-cjk.py (which adds the same words to the
// index after mdBook built it), every run of Chinese characters is cut into overlapping pairs
// (粘包问题 -> 粘包 包问 问题): a two-character word such as 粘包 is always one of them.
(function () {
    if (typeof elasticlunr === 'undefined') {
        return;
    }
    var CHINESE = /[\u3400-\u9fff\uf900-\ufaff]+/g;
    var HAS_CHINESE = /[\u3400-\u9fff\uf900-\ufaff]/;

    function pairs(run) {
        if (run.length < 2) {
            return [run];
        }
        var out = [];
        for (var i = 0; i + 1 < run.length; i++) {
            out.push(run.slice(i, i + 2));
        }
        return out;
    }

    var tokenizer = elasticlunr.tokenizer;
    var withChinese = function () {
        var out = [];
        tokenizer.apply(this, arguments).forEach(function (token) {
            var runs = token.match(CHINESE);
            if (!runs) {
                out.push(token);
                return;
            }
            token.replace(CHINESE, ' ').split(/\s+/).forEach(function (rest) {
                if (rest) {
                    out.push(rest);
                }
            });
            runs.forEach(function (run) {
                out.push.apply(out, pairs(run));
            });
        });
        return out;
    };
    for (var key in tokenizer) {
        if (Object.prototype.hasOwnProperty.call(tokenizer, key)) {
            withChinese[key] = tokenizer[key];
        }
    }
    elasticlunr.tokenizer = withChinese;

    // The index names its pipeline "trimmer", "stopWordFilter", "stemmer": a Chinese pair must
    // pass the trimmer, which would strip it as punctuation.
    var trimmer = elasticlunr.trimmer;
    var keepChinese = function (token) {
        return HAS_CHINESE.test(token) ? token : trimmer(token);
    };
    var warn = elasticlunr.utils.warn;
    elasticlunr.utils.warn = function () {};
    elasticlunr.Pipeline.registerFunction(keepChinese, 'trimmer');
    elasticlunr.utils.warn = warn;
})();
